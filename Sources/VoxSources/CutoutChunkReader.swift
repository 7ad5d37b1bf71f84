import Foundation
import VoxTransport

/// Chunks fetched as cutouts of a REST service: one GET per chunk-aligned box.
public struct CutoutChunkReader: ChunkReader {
    /// The cutout URL of an absolute voxel box [begin, end) at one resolution level.
    public typealias URLBuilder = @Sendable (_ level: Int, _ begin: Vec3, _ end: Vec3) -> String

    let client: HTTPClient
    let level: Int
    let url: URLBuilder
    let accept: String

    public init(client: HTTPClient, level: Int, accept: String, url: @escaping URLBuilder) {
        self.client = client
        self.level = level
        self.accept = accept
        self.url = url
    }

    private func url(scale: ScaleGeometry, cell: Vec3) -> String {
        let (begin, end) = scale.chunkBounds(cell)
        return url(level, begin + scale.voxelOffset, end + scale.voxelOffset)
    }

    /// A cutout inside the volume always exists: any failure, 404 included, is an error.
    public func storedChunk(scale: ScaleGeometry, cell: Vec3) async throws -> [UInt8]? {
        let address = url(scale: scale, cell: cell)
        return try await client.counted {
            let response = try await client.send(HTTPRequest(url: address, headers: ["Accept: " + accept]))
            guard response.status == 200 else { throw StoreError.status(response, url: address) }
            return response.body
        }
    }

    public func describe(scale: ScaleGeometry, cell: Vec3) -> String { url(scale: scale, cell: cell) }
}

/// A cutout service's geometry, turned into the precomputed info voxfs serves as `P/info`.
struct CutoutLevel {
    var size: Vec3
    var offset: Vec3
    var resolution: [Double]
    var chunk: Vec3

    /// `6_6_30`, or `5.5_5.5_30`: the scale key and directory name.
    var key: String {
        resolution.map { $0 == $0.rounded() ? String(Int($0)) : String($0) }.joined(separator: "_")
    }

    static func info(type: String, dataType: DataType, levels: [CutoutLevel], url: String) throws -> PrecomputedInfo {
        let scales: [[String: Any]] = levels.map { level in
            ["key": level.key, "size": level.size.array, "voxel_offset": level.offset.array, "resolution": level.resolution,
             "chunk_sizes": [level.chunk.array], "encoding": "raw"]
        }
        let object: [String: Any] = ["@type": "neuroglancer_multiscale_volume", "type": type, "data_type": dataType.rawValue,
                                     "num_channels": 1, "scales": scales]
        return try PrecomputedInfo(json: Array(JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])), url: url)
    }
}

extension Vec3 {
    var array: [Int] { [x, y, z] }
}
