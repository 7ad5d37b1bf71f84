import VoxCache
import VoxTransport

/// Objects of a directory sharded as `neuroglancer_uint64_sharded_v1` (volume chunks,
/// meshes, skeletons): an object is found through its shard's index and its minishard's
/// index, then read with one ranged GET.
///
/// Both index levels are cached (memory, and disk when there is one), so an object of a shard
/// seen before costs one ranged GET, and objects of one shard wanted together share GETs.
public struct ShardedObjects: Sendable {
    let store: any ObjectStore
    let spec: ShardingSpec
    let caches: SourceCaches
    /// Layer identity and version, so cached indexes of a changed layer are not reused.
    let cachePrefix: String
    private let batcher: ShardReadBatcher

    public init(store: any ObjectStore, spec: ShardingSpec, caches: SourceCaches, cachePrefix: String) {
        self.store = store
        self.spec = spec
        self.caches = caches
        self.cachePrefix = cachePrefix
        self.batcher = ShardReadBatcher(store: store)
    }

    /// Where object `id` of `directory` lies: its shard file and byte range; nil when absent.
    public func locate(_ id: UInt64, in directory: String) async throws -> (file: String, range: Range<Int>)? {
        let (shard, minishard) = spec.location(of: id)
        let file = directory + "/" + spec.shardFileName(shard)
        // Shard index entry: where the minishard index lies, relative to the end of the shard index.
        let entryStart = 16 * Int(minishard)
        guard let entry = try await cachedRange(file, entryStart..<(entryStart + 16), decode: nil), entry.count == 16 else {
            return nil  // no shard file: every object in it is missing
        }
        let rawBegin = Self.uint64(entry, 0), rawEnd = Self.uint64(entry, 8)
        guard rawBegin < rawEnd else { return nil }  // empty minishard
        guard rawEnd <= UInt64(Int.max / 2) else {
            throw StoreError.corrupt("minishard range \(rawBegin)..<\(rawEnd)", url: store.describe(file))
        }
        let begin = Int(rawBegin), end = Int(rawEnd)
        // 24 bytes per object: 64 MiB is millions of objects in one minishard, more than any
        // writer makes; a larger range is a damaged or hostile index.
        guard begin >= 0, end - begin <= 64 << 20 else {
            throw StoreError.corrupt("minishard range \(begin)..<\(end)", url: store.describe(file))
        }
        let indexBase = spec.shardIndexLength
        guard let index = try await cachedRange(
            file, (indexBase + begin)..<(indexBase + end), decode: spec.minishardIndexEncoding == .gzip ? .gzip : nil)
        else { throw StoreError.corrupt("minishard index vanished", url: store.describe(file)) }
        guard let range = try Self.chunkRange(id, minishardIndex: index, url: store.describe(file)) else { return nil }
        return (file, (indexBase + range.lowerBound)..<(indexBase + range.upperBound))
    }

    /// Object `id` of `directory`, decoded as the spec's data encoding says; nil when absent.
    public func read(_ id: UInt64, in directory: String) async throws -> [UInt8]? {
        guard let (file, range) = try await locate(id, in: directory) else { return nil }
        let data = try await readRange(file, range)
        guard spec.dataEncoding == .gzip else { return data }
        do { return try Gzip.inflate(data, limit: Int(Self.maxObjectBytes)) } catch {
            throw StoreError.corrupt("object \(id): \(error)", url: store.describe(file))
        }
    }

    /// Bytes of a shard file as stored (shared with concurrent reads of the same shard).
    public func readRange(_ file: String, _ range: Range<Int>) async throws -> [UInt8] {
        try await batcher.read(file, range)
    }

    public func describe(_ id: UInt64, in directory: String) -> String {
        store.describe(directory + "/" + spec.shardFileName(spec.location(of: id).shard)) + " (id \(id))"
    }

    private enum Decoding { case gzip }

    /// A byte range of a shard file through memory, disk and network; nil when the file does
    /// not exist (kept as an empty entry, so a missing shard is asked for once).
    private func cachedRange(_ file: String, _ range: Range<Int>, decode: Decoding?) async throws -> [UInt8]? {
        let key = "range|\(cachePrefix)|\(file)|\(range.lowerBound)-\(range.upperBound)"
        let bytes = try await caches.metadata.value(for: key, cost: { $0.count + 64 }) { [store, caches] in
            switch await caches.disk?.load(key) {
            case let .bytes(bytes)?: return bytes
            case .missing?: return []
            case nil: break
            }
            guard let fetched = try await store.fetch(file, range: range) else {
                await caches.disk?.store(key, .missing)
                return []
            }
            var bytes = fetched.bytes
            if decode == .gzip {
                do { bytes = try Gzip.inflate(bytes, limit: 64 << 20) } catch {
                    throw StoreError.corrupt("minishard index: \(error)", url: store.describe(file))
                }
            }
            await caches.disk?.store(key, .bytes(bytes))
            return bytes
        }
        return bytes.isEmpty ? nil : bytes
    }

    /// Finds `id` in a decoded minishard index ([3, n] uint64: delta-coded ids, offsets
    /// as gaps after the previous chunk's end, sizes); its byte range after the shard index.
    static func chunkRange(_ id: UInt64, minishardIndex bytes: [UInt8], url: String) throws -> Range<Int>? {
        guard bytes.count % 24 == 0 else { throw StoreError.corrupt("minishard index of \(bytes.count) bytes", url: url) }
        let n = bytes.count / 24
        var chunkID: UInt64 = 0, position: UInt64 = 0
        for i in 0..<n {
            chunkID &+= uint64(bytes, 8 * i)
            let start = position &+ uint64(bytes, 8 * (n + i))
            let size = uint64(bytes, 8 * (2 * n + i))
            position = start &+ size
            if chunkID == id {
                guard start < UInt64(Int.max / 2), size <= maxObjectBytes else {
                    throw StoreError.corrupt("object \(id) claims \(size) bytes at \(start)", url: url)
                }
                return Int(start)..<Int(start + size)
            }
        }
        return nil
    }

    /// Largest object a shard may hold: a volume chunk, a mesh or a skeleton.
    static let maxObjectBytes: UInt64 = 1 << 30

    static func uint64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }
}
