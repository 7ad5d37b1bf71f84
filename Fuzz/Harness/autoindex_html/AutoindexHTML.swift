// nginx `autoindex` and Apache `mod_autoindex` HTML pages: AutoindexListing.parseHTML.
import FuzzSupport
@testable import VoxFileTree

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let result = Result { try AutoindexListing.parseHTML(FuzzInput(data, size).bytes) }
    note("\(result)")
    if case let .success(listing) = result {
        for entry in listing.entries { precondition(EntryName.problem(entry.name) == nil, "unsafe name \(entry.name) listed") }
    }
    return 0
}
