import Foundation
import VoxTransport

/// The meshes of a segmentation layer's `mesh` directory, one segment at a time.
public protocol MeshSource: Sendable {
    /// Levels of detail a segment may have (legacy meshes: 1).
    var maxLevels: Int { get }
    /// Segment `segment`'s mesh at level of detail `lod`, in nanometres; nil when the
    /// segment has no mesh or no such level.
    func mesh(_ segment: UInt64, lod: Int) async throws -> SegmentMesh?
}

public enum MeshSources {
    /// Reads `<directory>/info` (absent for many legacy meshes) and opens the matching source.
    public static func open(store: any ObjectStore, directory: String, caches: SourceCaches) async throws -> any MeshSource {
        let infoKey = directory + "/info"
        let url = store.describe(infoKey)
        guard let fetched = try await MetadataCache.fetch(infoKey, from: store, disk: caches.disk) else {
            return LegacyMeshSource(store: store, directory: directory)
        }
        guard let info = (try? JSONSerialization.jsonObject(with: Data(fetched.bytes))) as? [String: Any] else {
            throw SourceError.invalidInfo("not a JSON object", url: url)
        }
        switch info["@type"] as? String {
        case nil, "neuroglancer_legacy_mesh"?:
            guard info["sharding"] == nil else { throw SourceError.unsupported("sharded legacy meshes", url: url) }
            return LegacyMeshSource(store: store, directory: directory)
        case "neuroglancer_multilod_draco"?:
            return try MultiResolutionMeshSource(
                store: store, directory: directory, info: info, url: url, caches: caches,
                cachePrefix: store.location + "|" + (fetched.validator ?? "crc32:\(Checksum.crc32(fetched.bytes))"))
        case let other?:
            throw SourceError.unsupported("mesh type '\(other)'", url: url)
        }
    }

    /// A 3×4 row-major transform from an info (identity when absent).
    static func transform(_ info: [String: Any], url: String) throws(SourceError) -> [Double] {
        guard let value = info["transform"] else { return [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0] }
        guard let numbers = value as? [NSNumber], numbers.count == 12, numbers.allSatisfy({ $0.doubleValue.isFinite }) else {
            throw SourceError.invalidInfo("'transform' must be 12 numbers (3×4, row-major)", url: url)
        }
        return numbers.map(\.doubleValue)
    }

    /// Point `point` (x y z) through a 3×4 row-major transform, written into `vertices` at `index`.
    static func place(_ point: [Double], through transform: [Double], into vertices: inout [Float], at index: Int) {
        for axis in 0..<3 {
            let row = 4 * axis
            vertices[3 * index + axis] = Float(
                transform[row] * point[0] + transform[row + 1] * point[1] + transform[row + 2] * point[2] + transform[row + 3])
        }
    }

    /// Parses a segment id the way precomputed names files: decimal, no sign, fits 64 bits.
    public static func segmentID(_ text: Substring) -> UInt64? {
        guard !text.isEmpty, text.count <= 20, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(text)
    }
}

/// Legacy meshes: `<segid>:0` lists fragment files, each a vertex count, float32 xyz
/// vertices (nm) and uint32 triangle indices; a segment's mesh joins them all.
struct LegacyMeshSource: MeshSource {
    let store: any ObjectStore
    let directory: String

    var maxLevels: Int { 1 }

    func mesh(_ segment: UInt64, lod: Int) async throws -> SegmentMesh? {
        guard lod == 0 else { return nil }
        let manifestKey = "\(directory)/\(segment):0"
        guard let manifest = try await store.fetch(manifestKey) else { return nil }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(manifest.bytes))) as? [String: Any],
              let names = object["fragments"] as? [String]
        else { throw SourceError.corruptChunk("expected {\"fragments\": [...]}", url: store.describe(manifestKey)) }
        for name in names where name.isEmpty || name.hasPrefix("/") || name.contains("..") || name.contains("://") {
            throw SourceError.corruptChunk("fragment name '\(name)' leaves the mesh directory", url: store.describe(manifestKey))
        }
        let pieces = try await withThrowingTaskGroup(of: (Int, SegmentMesh).self) { group in
            for (index, name) in names.enumerated() {
                group.addTask {
                    let key = directory + "/" + name
                    guard let fragment = try await store.fetch(key) else {
                        throw SourceError.corruptChunk("fragment listed in \(segment):0 is missing", url: store.describe(key))
                    }
                    do { return (index, try Self.decodeFragment(fragment.bytes)) } catch {
                        throw SourceError.corruptChunk("\(error)", url: store.describe(key))
                    }
                }
            }
            return try await group.reduce(into: [Int: SegmentMesh]()) { $0[$1.0] = $1.1 }
        }
        var mesh = SegmentMesh()
        for index in names.indices { mesh.append(pieces[index]!) }
        return mesh
    }

    static func decodeFragment(_ bytes: [UInt8]) throws(MeshDecodeError) -> SegmentMesh {
        var reader = LittleEndianReader(bytes)
        let count = Int(try reader.uint32())
        let vertices = try reader.float32s(3 * count)
        guard reader.remaining % 12 == 0 else { throw MeshDecodeError("\(reader.remaining) bytes of indices, not whole triangles") }
        let triangles = try reader.uint32s(reader.remaining / 4)
        return try SegmentMesh(vertices: vertices, triangles: triangles).validated("legacy fragment")
    }
}

/// Multi-resolution Draco meshes: per segment a manifest and its fragments, either as
/// `<segid>.index` and `<segid>` files, or in shards where the fragments lie just before the
/// manifest.
struct MultiResolutionMeshSource: MeshSource {
    let store: any ObjectStore
    let directory: String
    let quantizationBits: Int
    let transform: [Double]
    let shards: ShardedObjects?

    var maxLevels: Int { MultiResolutionManifest.maxLevels }

    init(store: any ObjectStore, directory: String, info: [String: Any], url: String, caches: SourceCaches, cachePrefix: String) throws {
        self.store = store
        self.directory = directory
        guard let bits = (info["vertex_quantization_bits"] as? NSNumber)?.intValue, bits == 10 || bits == 16 else {
            throw SourceError.invalidInfo("'vertex_quantization_bits' must be 10 or 16", url: url)
        }
        quantizationBits = bits
        transform = try MeshSources.transform(info, url: url)
        if let sharding = info["sharding"] as? [String: Any] {
            let spec = try ShardingSpec(json: Array(try JSONSerialization.data(withJSONObject: sharding)), url: url)
            guard spec.dataEncoding == .raw else {
                throw SourceError.unsupported("gzip data_encoding for multi-resolution meshes (fragments are addressed by offset)", url: url)
            }
            shards = ShardedObjects(store: store, spec: spec, caches: caches, cachePrefix: cachePrefix + "|" + directory)
        } else {
            shards = nil
        }
    }

    func mesh(_ segment: UInt64, lod: Int) async throws -> SegmentMesh? {
        let location: String
        let manifest: MultiResolutionManifest
        let fragments: (Range<Int>) async throws -> [UInt8]
        if let shards {
            guard let (file, range) = try await shards.locate(segment, in: directory) else { return nil }
            location = shards.describe(segment, in: directory)
            manifest = try await decoded(location) { try MultiResolutionManifest(try await shards.readRange(file, range)) }
            let start = range.lowerBound - manifest.totalFragmentBytes
            guard start >= 0 else { throw SourceError.corruptChunk("manifest names more fragment bytes than precede it", url: location) }
            fragments = { try await shards.readRange(file, (start + $0.lowerBound)..<(start + $0.upperBound)) }
        } else {
            let indexKey = "\(directory)/\(segment).index"
            guard let index = try await store.fetch(indexKey) else { return nil }
            location = store.describe(indexKey)
            manifest = try await decoded(location) { try MultiResolutionManifest(index.bytes) }
            let dataKey = "\(directory)/\(segment)"
            fragments = { range in
                guard let data = try await store.fetch(dataKey, range: range) else {
                    throw SourceError.corruptChunk("fragment data missing", url: store.describe(dataKey))
                }
                return data.bytes
            }
        }
        guard lod >= 0, lod < manifest.levelCount else { return nil }
        let range = manifest.range(ofLevel: lod)
        let data = range.isEmpty ? [] : try await fragments(range)
        return try await decoded(location) {
            try manifest.mesh(lod: lod, data: data, quantizationBits: quantizationBits, transform: transform)
        }
    }

    private func decoded<T>(_ url: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as MeshDecodeError {
            throw SourceError.corruptChunk(error.description, url: url)
        }
    }
}
