/// Sends requests through the shared curl engine with bounded retries, a deadline on each
/// attempt, a redirect policy and the process-wide traffic counters.
public struct HTTPClient: Sendable {
    public let engine: CurlEngine
    public let retry: RetryPolicy
    public let limits: TransferLimits
    public let counters: TransportCounters
    /// Sent with every request (e.g. authorization).
    public let headers: [String]

    /// Longest `Retry-After` honoured: a server asking for more is treated as failing now.
    static let maxRetryAfterSeconds = 10

    public init(
        engine: CurlEngine = .shared, retry: RetryPolicy = .init(), limits: TransferLimits = .init(),
        headers: [String] = [], counters: TransportCounters = .shared
    ) {
        self.engine = engine
        self.retry = retry
        self.limits = limits
        self.headers = headers
        self.counters = counters
    }

    /// The final response, after retrying transport failures, 429 and 5xx, and following
    /// the redirects `request.redirects` allows. Other statuses are returned, not thrown.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await send(request) { $0 }
    }

    /// `interpret` applied to the final response. A response it rejects as malformed
    /// (`StoreError.badRange`: a wrong Content-Range, a short body, a 200 for a range) is
    /// asked for again, within the same bound on attempts: a proxy or a connection spoiled it.
    public func send<T>(_ request: HTTPRequest, interpret: (HTTPResponse) throws -> T) async throws -> T {
        var request = request
        request.headers = headers + request.headers
        request.deadline = limits
        var attempt = 0
        var redirects = 0
        while true {
            attempt += 1
            var response: HTTPResponse
            do {
                response = try await perform(request)
            } catch let error as StoreError where error.isRetryable {
                guard attempt < retry.maxAttempts else { throw attempt > 1 ? StoreError.exhausted(error, attempts: attempt) : error }
                counters.retries.add(1, ordering: .relaxed)
                try await Task.sleep(for: retry.delay(beforeRetry: attempt))
                continue
            }
            response.attempts = attempt
            if StoreError.isRetryable(status: response.status), attempt < retry.maxAttempts,
               let pause = pause(before: attempt, response) {
                counters.retries.add(1, ordering: .relaxed)
                try await Task.sleep(for: pause)
                continue
            }
            if case .sameOrigin = request.redirects, (300...399).contains(response.status), response.status != 304 {
                redirects += 1
                request.url = try Self.sameOriginTarget(of: response, from: request.url, hops: redirects)
                continue
            }
            do {
                return try interpret(response)
            } catch let error as StoreError {
                guard case .badRange = error else { throw error }
                guard attempt < retry.maxAttempts else { throw attempt > 1 ? StoreError.exhausted(error, attempts: attempt) : error }
                Log.debug("\(request.url): \(error); asking again")
                counters.retries.add(1, ordering: .relaxed)
                try await Task.sleep(for: retry.delay(beforeRetry: attempt))
            }
        }
    }

    /// Counts a failed operation in the `errors` counter on its way out.
    public func counted<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch {
            if !(error is CancellationError) { counters.errors.add(1, ordering: .relaxed) }
            throw error
        }
    }

    private func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        counters.requests.add(1, ordering: .relaxed)
        counters.inFlight.add(1, ordering: .relaxed)
        defer { counters.inFlight.subtract(1, ordering: .relaxed) }
        let started = ContinuousClock.now
        do {
            let response = try await engine.perform(request)
            counters.bytesFetched.add(response.body.count, ordering: .relaxed)
            if let mismatch = BodyChecksum.mismatch(response, to: request) {
                // Damaged on the way: a transport failure, so it is asked for again.
                throw StoreError.transport("checksum mismatch: \(mismatch)", url: request.url)
            }
            Log.debug("\(request.method) \(request.url)\(request.range.map { " [\($0.lowerBound), \($0.upperBound))" } ?? ""): "
                      + "\(response.status), \(response.body.count) bytes in \(ContinuousClock.now - started)")
            return response
        } catch {
            Log.debug("\(request.method) \(request.url): \(error) after \(ContinuousClock.now - started)")
            throw error
        }
    }

    /// Jittered backoff, or the server's `Retry-After` (in seconds) when it gives a short one.
    private func pause(before attempt: Int, _ response: HTTPResponse) -> Duration? {
        guard let header = response.headers["retry-after"] else { return retry.delay(beforeRetry: attempt) }
        guard let seconds = Int(header.trimmingSpaces()) else { return retry.delay(beforeRetry: attempt) }
        return seconds <= Self.maxRetryAfterSeconds ? .seconds(max(seconds, 0)) : nil
    }

    /// Where a redirect points, if it stays on the origin of `url`.
    static func sameOriginTarget(of response: HTTPResponse, from url: String, hops: Int) throws -> String {
        guard hops <= 5 else { throw StoreError.badRedirect("more than 5 redirects", url: url) }
        guard let location = response.headers["location"]?.trimmingSpaces(), !location.isEmpty else {
            throw StoreError.badRedirect("HTTP \(response.status) without Location", url: url)
        }
        let origin = Self.origin(of: url)
        let target: String
        if location.hasPrefix("/") && !location.hasPrefix("//") {
            target = origin + location
        } else if location.contains("://") {
            target = location
        } else {
            throw StoreError.badRedirect("unsupported redirect target '\(location)'", url: url)
        }
        guard Self.origin(of: target).lowercased() == origin.lowercased() else {
            throw StoreError.badRedirect("redirect to another host: \(location)", url: url)
        }
        return target
    }

    /// The path of an absolute URL, without query or fragment (`/` when empty).
    public static func path(of url: String) -> String {
        let afterOrigin = url.dropFirst(origin(of: url).count)
        let path = afterOrigin.prefix { $0 != "?" && $0 != "#" }
        return path.isEmpty ? "/" : String(path)
    }

    /// `scheme://host[:port]` of an absolute URL.
    static func origin(of url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return String(url[..<schemeEnd.upperBound]) + authority
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
