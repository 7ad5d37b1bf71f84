/// Objects under an HTTP(S) prefix, fetched with the shared curl engine.
public struct HTTPStore: ObjectStore {
    public let baseURL: String
    private let engine: CurlEngine
    private let retry: RetryPolicy
    private let limits: TransferLimits
    private let headers: [String]
    private let counters: TransportCounters

    public init(
        baseURL: String, engine: CurlEngine = .shared, retry: RetryPolicy = .init(),
        limits: TransferLimits = .init(), headers: [String] = [], counters: TransportCounters = .shared
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.engine = engine
        self.retry = retry
        self.limits = limits
        self.headers = headers
        self.counters = counters
    }

    public var location: String { baseURL }

    public func fetch(_ key: String, range: Range<Int>?) async throws -> FetchedObject? {
        if let range, range.isEmpty { return FetchedObject(bytes: []) }
        let url = describe(URLPath.escape(key))
        let request = HTTPRequest(url: url, range: range, headers: headers, deadline: limits)
        var attempt = 0
        while true {
            attempt += 1
            do {
                let object = try Self.interpret(try await perform(request), url: url, range: range)
                if object == nil { counters.notFound.add(1, ordering: .relaxed) }
                return object
            } catch let error as StoreError where error.isRetryable && attempt < retry.maxAttempts {
                counters.retries.add(1, ordering: .relaxed)
                try await Task.sleep(for: retry.delay(beforeRetry: attempt))
            } catch {
                counters.errors.add(1, ordering: .relaxed)
                throw error
            }
        }
    }

    private func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        counters.requests.add(1, ordering: .relaxed)
        counters.inFlight.add(1, ordering: .relaxed)
        defer { counters.inFlight.subtract(1, ordering: .relaxed) }
        let response = try await engine.perform(request)
        counters.bytesFetched.add(response.body.count, ordering: .relaxed)
        return response
    }

    /// Maps a response to an object, "not found", or an error.
    static func interpret(_ response: HTTPResponse, url: String, range: Range<Int>?) throws -> FetchedObject? {
        switch response.status {
        case 404, 410: return nil
        case 200 where range == nil, 206 where range != nil: break
        case 200:
            throw StoreError.badRange("server sent the whole object (200) for a range request", url: url)
        default:
            throw StoreError.httpStatus(response.status, url: url)
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
    static func validate(_ header: String?, requested: Range<Int>, url: String) throws {
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
    }
}
