// ShardedObjects.locate end to end over an in-memory shard file: the sharding parameters,
// the shard index entry, the (optionally gzipped) minishard index, and the arithmetic that
// turns them into a byte range of the shard file.
//
// Input: byte 0 flags (bit 0 murmurhash3_x86_128 else identity, bit 1 gzip minishard index,
// bit 2 gzip data); bytes 1, 2, 3: preshift_bits, minishard_bits, shard_bits (each mod 65);
// 8 bytes chunk id (little-endian); the rest is the shard file the id falls into.
import FuzzSupport
import VoxSources
import VoxTransport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let flags = input.byte()
    let preshift = Int(input.byte() % 65), minishardBits = Int(input.byte() % 65), shardBits = Int(input.byte() % 65)
    let id = input.uint64()
    let file = input.rest
    let json = """
        {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": \(preshift), \
        "hash": "\(flags & 1 == 0 ? "identity" : "murmurhash3_x86_128")", \
        "minishard_bits": \(minishardBits), "shard_bits": \(shardBits), \
        "minishard_index_encoding": "\(flags & 2 == 0 ? "raw" : "gzip")", "data_encoding": "\(flags & 4 == 0 ? "raw" : "gzip")"}
        """
    guard let spec = try? ShardingSpec(json: Array(json.utf8), url: "fuzz://info") else { return 0 }
    let store = MemoryStore(["d/" + spec.shardFileName(spec.location(of: id).shard): file], location: "fuzz://")
    let objects = ShardedObjects(store: store, spec: spec, caches: .inMemory(), cachePrefix: "fuzz")
    runBlocking {
        let located: Result<(file: String, range: Range<Int>)?, any Error>
        do { located = .success(try await objects.locate(id, in: "d")) } catch { located = .failure(error) }
        note("id \(id): \(located)")
        guard case let .success((_, range)?) = located else { return }
        precondition(range.lowerBound >= 0, "located range \(range) starts before the file")
    }
    return 0
}
