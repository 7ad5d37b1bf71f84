import VoxTransport

/// A WebDAV collection (`webdav+http(s)://host/path/`), listed with PROPFIND Depth: 1.
public struct WebDAVTree: HTTPFileTree {
    /// The collection's URL, ending in `/`.
    public let baseURL: String
    let client: HTTPClient

    public init(baseURL: String, client: HTTPClient = HTTPClient()) {
        self.baseURL = baseURL.hasSuffix("/") ? baseURL : baseURL + "/"
        self.client = client
    }

    public var location: String { "webdav+" + baseURL }

    func fileURL(_ path: String) -> String { joinedURL(baseURL, path) }

    public func list(_ path: String) async throws -> Listing {
        let url = joinedURL(baseURL, path, directory: true)
        return try await client.counted {
            let body = try await listingResponse(HTTPRequest(
                url: url, method: "PROPFIND", headers: ["Depth: 1", "Content-Type: application/xml; charset=utf-8"],
                body: WebDAVListing.request))
            let directoryPath = URLPath.unescape(HTTPClient.path(of: url)) ?? HTTPClient.path(of: url)
            return try parsed(url) { try WebDAVListing.parse(body, directoryPath: directoryPath) }
        }
    }
}
