/// Stops a paged listing that would never end: a server repeating a page token, or handing
/// out more pages than any real directory has.
struct PageGuard {
    /// 20,000 pages of 1,000: twenty million names in one directory.
    static let maxPages = 20_000
    private var tokens: Set<String> = []

    mutating func check(next token: String?, url: String) throws {
        guard let token else { return }
        guard tokens.insert(token).inserted else { throw ListingError("\(url): the server repeated page token '\(token.prefix(40))'") }
        guard tokens.count < Self.maxPages else { throw ListingError("\(url): more than \(Self.maxPages) pages") }
    }
}
