import Foundation

/// A Neuroglancer precomputed `info` file, validated.
public struct PrecomputedInfo: Sendable {
    public struct Scale: Sendable {
        public var geometry: ScaleGeometry
        /// The `sharding` object when the scale is sharded, re-serialised for the shard reader.
        public var shardingJSON: [UInt8]?
        public var compressedSegmentationBlockSize: Vec3?
    }

    public var layerType: String
    public var dataType: DataType
    public var channelCount: Int
    public var scales: [Scale]
    /// The info exactly as fetched, for `P/info`.
    public var rawJSON: [UInt8]
    /// Segmentation layers: subdirectories holding meshes, skeletons and segment properties.
    public var meshDirectory: String?
    public var skeletonDirectory: String?
    public var segmentPropertiesDirectory: String?

    /// Parses and checks every field a reader relies on; errors name the field and the URL.
    public init(json: [UInt8], url: String) throws(SourceError) {
        func fail(_ message: String) -> SourceError { .invalidInfo(message, url: url) }
        guard let root = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        guard let type = root["type"] as? String else { throw fail("missing 'type'") }
        guard let dataTypeName = root["data_type"] as? String else { throw fail("missing 'data_type'") }
        guard let dataType = DataType(rawValue: dataTypeName) else { throw fail("unknown data_type '\(dataTypeName)'") }
        let channels = (root["num_channels"] as? Int) ?? 1
        guard (1...4096).contains(channels) else { throw fail("num_channels must be from 1 to 4096") }
        guard let scaleList = root["scales"] as? [[String: Any]], !scaleList.isEmpty else {
            throw fail("missing or empty 'scales'")
        }
        var scales: [Scale] = []
        for (index, scale) in scaleList.enumerated() {
            func field(_ name: String) -> String { "scales[\(index)].\(name)" }
            func vector(_ name: String, _ value: Any?, positive: Bool) throws(SourceError) -> Vec3 {
                guard let list = value as? [Any], list.count == 3, let ints = Self.integers(list) else {
                    throw fail("\(field(name)) must be three integers")
                }
                if positive && ints.contains(where: { $0 <= 0 }) { throw fail("\(field(name)) must be positive") }
                return Vec3(ints[0], ints[1], ints[2])
            }
            guard let key = scale["key"] as? String, !key.isEmpty else { throw fail("missing \(field("key"))") }
            let size = try vector("size", scale["size"], positive: true)
            let offset = try scale["voxel_offset"].map { v throws(SourceError) in try vector("voxel_offset", v, positive: false) } ?? Vec3(0, 0, 0)
            // Far beyond any dataset, and small enough that no sum or product of them overflows.
            for value in [size.x, size.y, size.z] where value > Self.maxExtent {
                throw fail("\(field("size")) \(size) is larger than \(Self.maxExtent) voxels")
            }
            for value in [offset.x, offset.y, offset.z] where abs(value) > Self.maxOffset {
                throw fail("\(field("voxel_offset")) \(offset) is beyond ±\(Self.maxOffset)")
            }
            guard let chunkList = scale["chunk_sizes"] as? [Any], let first = chunkList.first else {
                throw fail("missing \(field("chunk_sizes"))")
            }
            let chunk = try vector("chunk_sizes[0]", first, positive: true)
            guard chunk.x <= Self.maxExtent, chunk.y <= Self.maxExtent, chunk.z <= Self.maxExtent,
                  Double(chunk.x) * Double(chunk.y) * Double(chunk.z) * Double(channels * dataType.byteWidth) <= 0x1p30
            else { throw fail("\(field("chunk_sizes[0]")) \(chunk) is larger than any chunk can be") }
            guard let encoding = scale["encoding"] as? String else { throw fail("missing \(field("encoding"))") }
            let resolution = (scale["resolution"] as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? [1, 1, 1]
            let blockSize = try scale["compressed_segmentation_block_size"].map { v throws(SourceError) in
                try vector("compressed_segmentation_block_size", v, positive: true)
            }
            let sharding = (scale["sharding"] as? [String: Any]).flatMap { try? JSONSerialization.data(withJSONObject: $0) }.map { [UInt8]($0) }
            scales.append(Scale(
                geometry: ScaleGeometry(key: key, size: size, voxelOffset: offset, chunkSize: chunk, resolution: resolution, encoding: encoding),
                shardingJSON: sharding, compressedSegmentationBlockSize: blockSize))
        }
        func subdirectory(_ name: String) throws(SourceError) -> String? {
            guard let value = root[name] else { return nil }
            guard let path = value as? String, !path.isEmpty, !path.hasPrefix("/"), !path.contains("://"),
                  !path.split(separator: "/").contains("..")
            else { throw fail("'\(name)' must name a subdirectory of the layer") }
            return path.hasSuffix("/") ? String(path.dropLast()) : path
        }
        self.meshDirectory = try subdirectory("mesh")
        self.skeletonDirectory = try subdirectory("skeletons")
        self.segmentPropertiesDirectory = try subdirectory("segment_properties")
        self.layerType = type
        self.dataType = dataType
        self.channelCount = channels
        self.scales = scales
        self.rawJSON = json
    }

    /// Voxels per axis of a scale, at most (2^24: sixteen million).
    static let maxExtent = 1 << 24
    static let maxOffset = 1 << 40

    private static func integers(_ list: [Any]) -> [Int]? {
        var out: [Int] = []
        for item in list {
            guard let number = item as? NSNumber, number.doubleValue == number.doubleValue.rounded(),
                  abs(number.doubleValue) <= 0x1p53
            else { return nil }
            out.append(number.intValue)
        }
        return out
    }
}
