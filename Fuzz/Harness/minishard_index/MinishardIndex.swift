// The minishard index of neuroglancer_uint64_sharded_v1: ShardedObjects.chunkRange.
//
// Input: 8 bytes, the chunk id to look for (little-endian), then the decoded minishard index
// ([3, n] uint64). The first id stored in the index is looked up too, so the "found" path
// runs whatever the first 8 bytes say.
import FuzzSupport
@testable import VoxSources

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let wanted = input.uint64()
    let index = input.rest
    var ids = [wanted]
    if index.count >= 24 { ids.append(ShardedObjects.uint64(index, 0)) }
    for id in ids {
        let result = Result { try ShardedObjects.chunkRange(id, minishardIndex: index, url: "fuzz://minishard") }
        note("id \(id): \(result)")
        if case let .success(range?) = result {
            precondition(range.lowerBound >= 0, "negative chunk start \(range)")
        }
    }
    return 0
}
