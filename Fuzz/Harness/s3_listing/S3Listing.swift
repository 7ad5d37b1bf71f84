// S3 ListObjectsV2 pages: S3Listing.parse (and XMLReader under it).
//
// Input: the body; or `<prefix>\0<body>` to list another prefix than tables/.
import FuzzSupport
@testable import VoxFileTree

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let (head, body) = FuzzInput.splitAtNUL(FuzzInput(data, size).bytes)
    let prefix = head.map { String(decoding: $0, as: UTF8.self) } ?? "tables/"
    let result = Result { try S3Listing.parse(body, prefix: prefix) }
    note("\(result)")
    if case let .success(page) = result {
        for entry in page.listing.entries { precondition(EntryName.problem(entry.name) == nil, "unsafe name \(entry.name) listed") }
    }
    return 0
}
