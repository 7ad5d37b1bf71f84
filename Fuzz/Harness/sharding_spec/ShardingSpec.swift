// The `sharding` object of an info: ShardingSpec(json:url:), then what readers derive from it
// (shard and minishard of a few ids, shard file names, the shard index length).
import FuzzSupport
import VoxSources

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let result = Result { () throws(SourceError) in try ShardingSpec(json: input.bytes, url: "fuzz://info") }
    note("\(result)")
    guard case let .success(spec) = result else { return 0 }
    for id: UInt64 in [0, 1, 12345, 864_691_135_122_603_047, .max] {
        let (shard, minishard) = spec.location(of: id)
        consume(spec.shardFileName(shard))
        consume(minishard)
    }
    consume(spec.shardIndexLength)
    return 0
}
