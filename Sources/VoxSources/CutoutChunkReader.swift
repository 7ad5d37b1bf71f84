import Foundation
import Synchronization
import VoxTransport

/// Chunks fetched as cutouts of a REST service: one GET per chunk-aligned box.
public struct CutoutChunkReader: ChunkReader {
    /// The cutout URL of an absolute voxel box [begin, end) at one resolution level.
    public typealias URLBuilder = @Sendable (_ level: Int, _ begin: Vec3, _ end: Vec3) -> String

    /// Which of two URL forms a service answers, once one has worked: shared by every
    /// level's reader of a volume.
    public final class URLForm: Sendable {
        private let useAlternative = Atomic<Bool>(false)
        public init() {}
        var prefersAlternative: Bool { useAlternative.load(ordering: .relaxed) }
        func chooseAlternative() { useAlternative.store(true, ordering: .relaxed) }
    }

    let client: HTTPClient
    let level: Int
    let url: URLBuilder
    /// Tried when `url` answers 400 or 404 (another generation of the same API).
    let alternative: URLBuilder?
    let form: URLForm
    let accept: String

    public init(
        client: HTTPClient, level: Int, accept: String, form: URLForm = URLForm(), url: @escaping URLBuilder,
        alternative: URLBuilder? = nil
    ) {
        self.client = client
        self.level = level
        self.accept = accept
        self.form = form
        self.url = url
        self.alternative = alternative
    }

    private func url(scale: ScaleGeometry, cell: Vec3, alternative useAlternative: Bool) -> String {
        let (begin, end) = scale.chunkBounds(cell)
        let build = useAlternative ? alternative ?? url : url
        return build(level, begin + scale.voxelOffset, end + scale.voxelOffset)
    }

    /// A cutout inside the volume always exists: any failure, 404 included, is an error.
    public func storedChunk(scale: ScaleGeometry, cell: Vec3) async throws -> [UInt8]? {
        let preferred = form.prefersAlternative
        let response = try await fetch(url(scale: scale, cell: cell, alternative: preferred))
        if response.status == 200 { return response.body }
        if !preferred, alternative != nil, response.status == 400 || response.status == 404 {
            let retried = try await fetch(url(scale: scale, cell: cell, alternative: true))
            if retried.status == 200 {
                form.chooseAlternative()
                return retried.body
            }
        }
        throw StoreError.status(response, url: url(scale: scale, cell: cell, alternative: preferred))
    }

    private func fetch(_ address: String) async throws -> HTTPResponse {
        try await client.counted { try await client.send(HTTPRequest(url: address, headers: ["Accept: " + accept])) }
    }

    public func describe(scale: ScaleGeometry, cell: Vec3) -> String {
        url(scale: scale, cell: cell, alternative: form.prefersAlternative)
    }
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
