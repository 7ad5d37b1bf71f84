// WebDAV PROPFIND (Depth: 1) multistatus bodies: WebDAVListing.parse (and XMLReader under it).
//
// Input: the body; or `<directory path>\0<body>` to list another directory than /dav/em/.
import FuzzSupport
@testable import VoxFileTree

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let (head, body) = FuzzInput.splitAtNUL(FuzzInput(data, size).bytes)
    let directory = head.map { String(decoding: $0, as: UTF8.self) } ?? "/dav/em/"
    let result = Result { try WebDAVListing.parse(body, directoryPath: directory) }
    note("\(result)")
    if case let .success(listing) = result {
        for entry in listing.entries { precondition(EntryName.problem(entry.name) == nil, "unsafe name \(entry.name) listed") }
    }
    return 0
}
