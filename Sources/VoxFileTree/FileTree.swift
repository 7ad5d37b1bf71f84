import VoxTransport

/// A remote hierarchy of plain files: the one seam the file-tree mounts read through.
///
/// Paths are relative to the tree's root, components joined by `/`, `""` for the root.
public protocol FileTree: Sendable {
    /// Where the tree is, for messages.
    var location: String { get }

    /// The entries directly inside directory `path`. Throws when the listing fails or is
    /// unusable; entries with unsafe names are left out and reported in `refused`.
    func list(_ path: String) async throws -> Listing

    /// The current version of file `path`, or nil when there is none.
    func version(of path: String) async throws -> ObjectVersion?

    /// Exactly `range` of file `path`, which must still be `version`.
    func read(_ path: String, range: Range<Int>, version: ObjectVersion) async throws -> [UInt8]

    /// The URL of `path`, for messages and cache keys.
    func describe(_ path: String) -> String
}

/// A tree whose files are plain HTTP objects: reads and HEADs are the same for every kind.
protocol HTTPFileTree: FileTree {
    var client: HTTPClient { get }
    /// The URL a GET of file `path` goes to.
    func fileURL(_ path: String) -> String
}

extension HTTPFileTree {
    public func version(of path: String) async throws -> ObjectVersion? {
        try await client.counted { try await client.head(fileURL(path)) }
    }

    public func read(_ path: String, range: Range<Int>, version: ObjectVersion) async throws -> [UInt8] {
        try await client.counted { try await client.fetchRange(fileURL(path), range: range, version: version) }
    }

    public func describe(_ path: String) -> String { fileURL(path) }

    /// GETs (or PROPFINDs) a listing page, insisting on 2xx and the same origin.
    func listingResponse(_ request: HTTPRequest) async throws -> [UInt8] {
        var request = request
        request.redirects = .sameOrigin
        let response = try await client.send(request)
        guard (200...299).contains(response.status) else { throw StoreError.status(response, url: request.url) }
        return response.body
    }

    /// Fetches and merges the pages of a paged listing (S3, GCS), stopping a server that
    /// would page forever.
    func pagedListing(
        _ pageURL: (_ token: String?) -> String, parse: ([UInt8], _ url: String) throws -> (Listing, next: String?)
    ) async throws -> Listing {
        var merged = Listing()
        var token: String?
        var pages = PageGuard()
        repeat {
            let url = pageURL(token)
            let page = try await client.counted {
                let body = try await listingResponse(HTTPRequest(url: url))
                return try parsed(url) { try parse(body, url) }
            }
            merged.append(page.0)
            token = page.next
            try pages.check(next: token, url: url)
        } while token != nil
        return merged
    }

    /// Runs a parser, turning its failure into one message naming the URL.
    func parsed<T>(_ url: String, _ parse: () throws -> T) throws -> T {
        do { return try parse() } catch { throw ListingError("\(url): \(error)") }
    }
}

/// `a/b` joined onto `base/` with each component escaped.
func joinedURL(_ base: String, _ path: String, directory: Bool = false) -> String {
    guard !path.isEmpty else { return base }
    return base + URLPath.escape(path) + (directory ? "/" : "")
}
