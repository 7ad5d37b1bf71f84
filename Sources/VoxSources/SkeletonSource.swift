import Foundation
import VoxTransport

/// One segment's skeleton in nanometres: vertices, edges between them, and per-vertex radius
/// and compartment when the layer stores them.
public struct Skeleton: Sendable, Equatable {
    public var vertices: [Float]
    /// Pairs of vertex indices.
    public var edges: [UInt32]
    public var radii: [Float]?
    public var compartments: [Int]?

    public init(vertices: [Float], edges: [UInt32], radii: [Float]? = nil, compartments: [Int]? = nil) {
        self.vertices = vertices
        self.edges = edges
        self.radii = radii
        self.compartments = compartments
    }

    public var vertexCount: Int { vertices.count / 3 }
}

/// The skeletons of a segmentation layer's `skeletons` directory (`neuroglancer_skeletons`),
/// sharded or one file per segment.
public struct SkeletonSource: Sendable {
    struct Attribute: Sendable {
        var id: String
        var dataType: DataType
        var components: Int
    }

    let store: any ObjectStore
    let directory: String
    let transform: [Double]
    let attributes: [Attribute]
    let shards: ShardedObjects?

    /// Reads `<directory>/info` (absent: identity transform, no attributes, unsharded).
    public static func open(store: any ObjectStore, directory: String, caches: SourceCaches) async throws -> SkeletonSource {
        let infoKey = directory + "/info"
        let url = store.describe(infoKey)
        guard let fetched = try await MetadataCache.fetch(infoKey, from: store, disk: caches.disk) else {
            return SkeletonSource(store: store, directory: directory, transform: try MeshSources.transform([:], url: url), attributes: [], shards: nil)
        }
        guard let info = (try? JSONSerialization.jsonObject(with: Data(fetched.bytes))) as? [String: Any] else {
            throw SourceError.invalidInfo("not a JSON object", url: url)
        }
        var attributes: [Attribute] = []
        for (index, item) in ((info["vertex_attributes"] as? [Any]) ?? []).enumerated() {
            guard let entry = item as? [String: Any], let id = entry["id"] as? String,
                  let typeName = entry["data_type"] as? String, let dataType = DataType(rawValue: typeName), dataType.byteWidth <= 4,
                  let components = (entry["num_components"] as? NSNumber)?.intValue, (1...16).contains(components)
            else { throw SourceError.invalidInfo("vertex_attributes[\(index)] needs id, a data_type of at most 32 bits and num_components", url: url) }
            attributes.append(Attribute(id: id, dataType: dataType, components: components))
        }
        var shards: ShardedObjects?
        if let sharding = info["sharding"] as? [String: Any] {
            let spec = try ShardingSpec(json: Array(try JSONSerialization.data(withJSONObject: sharding)), url: url)
            let version = fetched.validator ?? "crc32:\(Checksum.crc32(fetched.bytes))"
            shards = ShardedObjects(store: store, spec: spec, caches: caches, cachePrefix: store.location + "|" + version + "|" + directory)
        }
        return SkeletonSource(
            store: store, directory: directory, transform: try MeshSources.transform(info, url: url), attributes: attributes, shards: shards)
    }

    /// Segment `segment`'s skeleton, or nil when it has none.
    public func skeleton(_ segment: UInt64) async throws -> Skeleton? {
        let bytes: [UInt8]?
        let location: String
        if let shards {
            bytes = try await shards.read(segment, in: directory)
            location = shards.describe(segment, in: directory)
        } else {
            let key = "\(directory)/\(segment)"
            bytes = try await store.fetch(key)?.bytes
            location = store.describe(key)
        }
        guard let bytes else { return nil }
        do { return try decode(bytes) } catch {
            throw SourceError.corruptChunk(error.description, url: location)
        }
    }

    /// Vertex count, edge count, float32 xyz, uint32 edge pairs, then each vertex attribute.
    func decode(_ bytes: [UInt8]) throws(MeshDecodeError) -> Skeleton {
        var reader = LittleEndianReader(bytes)
        let vertexCount = Int(try reader.uint32()), edgeCount = Int(try reader.uint32())
        var vertices = try reader.float32s(3 * vertexCount)
        let edges = try reader.uint32s(2 * edgeCount)
        if let bad = edges.first(where: { Int($0) >= vertexCount }) {
            throw MeshDecodeError("edge to vertex \(bad) of \(vertexCount)")
        }
        var radii: [Float]?
        var compartments: [Int]?, compartmentID: String?
        for attribute in attributes {
            let width = attribute.dataType.byteWidth * attribute.components
            let start = reader.offset
            try reader.skip(width * vertexCount)
            guard attribute.components == 1 else { continue }
            let values = (0..<vertexCount).map { attribute.dataType.number(in: bytes, at: start + $0 * width) }
            if attribute.id == "radius" {
                radii = values.map(Float.init)
            } else if attribute.id == "compartment" || (attribute.id == "vertex_types" && compartmentID != "compartment") {
                compartments = values.map { $0.isFinite && abs($0) < 1e9 ? Int($0) : 0 }
                compartmentID = attribute.id
            }
        }
        for vertex in 0..<vertexCount {
            let point = (0..<3).map { Double(vertices[3 * vertex + $0]) }
            MeshSources.place(point, through: transform, into: &vertices, at: vertex)
        }
        return Skeleton(vertices: vertices, edges: edges, radii: radii, compartments: compartments)
    }
}

extension DataType {
    /// The little-endian sample at `offset` as a number (types of at most 32 bits).
    func number(in bytes: [UInt8], at offset: Int) -> Double {
        var raw: UInt32 = 0
        for index in 0..<byteWidth { raw |= UInt32(bytes[offset + index]) << (8 * UInt32(index)) }
        switch self {
        case .uint8, .uint16, .uint32: return Double(raw)
        case .int8: return Double(Int8(truncatingIfNeeded: raw))
        case .int16: return Double(Int16(truncatingIfNeeded: raw))
        case .int32: return Double(Int32(bitPattern: raw))
        case .float32: return Double(Float(bitPattern: raw))
        case .uint64, .int64, .float64: return 0
        }
    }
}
