import VoxTransport

/// A directory served as an index page by a web server (`http(s)://host/path/`): nginx's
/// autoindex in HTML or JSON, or Apache's.
public struct AutoindexTree: HTTPFileTree {
    public let baseURL: String
    let client: HTTPClient

    public init(baseURL: String, client: HTTPClient = HTTPClient()) {
        self.baseURL = baseURL.hasSuffix("/") ? baseURL : baseURL + "/"
        self.client = client
    }

    public var location: String { baseURL }

    func fileURL(_ path: String) -> String { joinedURL(baseURL, path) }

    public func list(_ path: String) async throws -> Listing {
        let url = joinedURL(baseURL, path, directory: true)
        return try await client.counted {
            let body = try await listingResponse(HTTPRequest(url: url, headers: ["Accept: application/json, text/html;q=0.9"]))
            let json = body.first(where: { !$0.isWhitespaceByte }) == UInt8(ascii: "[")
            return try parsed(url) { json ? try AutoindexListing.parseJSON(body) : try AutoindexListing.parseHTML(body) }
        }
    }
}

extension UInt8 {
    var isWhitespaceByte: Bool { self == 0x20 || self == 0x09 || self == 0x0A || self == 0x0D }
}
