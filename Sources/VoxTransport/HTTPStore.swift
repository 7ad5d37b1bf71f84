/// Objects under an HTTP(S) prefix, fetched with the shared curl engine.
public struct HTTPStore: ObjectStore {
    public let baseURL: String
    public let client: HTTPClient

    public init(baseURL: String, client: HTTPClient = HTTPClient()) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.client = client
    }

    public var location: String { baseURL }

    public func fetch(_ key: String, range: Range<Int>?) async throws -> FetchedObject? {
        if let range, range.isEmpty { return FetchedObject(bytes: []) }
        let url = describe(URLPath.escape(key))
        return try await client.counted {
            let object = try await client.send(HTTPRequest(url: url, range: range)) { try Self.interpret($0, url: url, range: range) }
            if object == nil { client.counters.notFound.add(1, ordering: .relaxed) }
            return object
        }
    }

    /// Maps a response to an object, "not found", or an error.
    static func interpret(_ response: HTTPResponse, url: String, range: Range<Int>?) throws -> FetchedObject? {
        switch response.status {
        case 404, 410: return nil
        case 200 where range == nil, 206 where range != nil: break
        case 200:
            throw StoreError.badRange("server sent the whole object (200) for a range request", url: url)
        default:
            throw StoreError.status(response, url: url)
        }
        if let range {
            try ContentRange.validate(response.headers["content-range"], requested: range, url: url)
            guard response.body.count == range.count else {
                throw StoreError.badRange("got \(response.body.count) bytes for a \(range.count)-byte range", url: url)
            }
        }
        return FetchedObject(bytes: response.body, validator: validator(response.headers))
    }

    private static func validator(_ headers: [String: String]) -> String? {
        if let etag = headers["etag"] { return "etag:" + etag }
        if let modified = headers["last-modified"] {
            let size = headers["content-range"].flatMap { $0.split(separator: "/").last.map(String.init) }
                ?? headers["content-length"] ?? "?"
            return "modified:\(modified);size:\(size)"
        }
        return nil
    }
}

/// Parses `Content-Range: bytes a-b/total` and checks it is exactly the requested range.
enum ContentRange {
    /// - Returns: the object's total size, when the server gave it (not `*`).
    @discardableResult
    static func validate(_ header: String?, requested: Range<Int>, url: String) throws -> Int? {
        guard let header else { throw StoreError.badRange("206 without Content-Range", url: url) }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0] == "bytes" else {
            throw StoreError.badRange("unparseable Content-Range '\(header)'", url: url)
        }
        let spanAndTotal = parts[1].split(separator: "/", maxSplits: 1)
        let bounds = spanAndTotal.first?.split(separator: "-", maxSplits: 1) ?? []
        guard bounds.count == 2, let first = Int(bounds[0]), let last = Int(bounds[1]) else {
            throw StoreError.badRange("unparseable Content-Range '\(header)'", url: url)
        }
        guard first == requested.lowerBound, last == requested.upperBound - 1 else {
            throw StoreError.badRange("asked for \(requested.lowerBound)-\(requested.upperBound - 1), got \(first)-\(last)", url: url)
        }
        return spanAndTotal.count == 2 ? Int(spanAndTotal[1]) : nil
    }
}
