/// One HTTP request as the curl engine runs it.
public struct HTTPRequest: Sendable {
    public enum Redirects: Sendable {
        /// curl follows up to 5 redirects anywhere (data GETs: object stores may redirect to a CDN).
        case follow
        /// Only redirects to the same scheme, host and port are followed; any other is an error.
        /// Listings use this, so a hostile server cannot point a directory somewhere else.
        case sameOrigin
    }

    public var url: String
    public var method: String
    public var range: Range<Int>?
    public var headers: [String]
    public var body: [UInt8]?
    public var redirects: Redirects
    public var deadline: TransferLimits

    public init(
        url: String, method: String = "GET", range: Range<Int>? = nil, headers: [String] = [], body: [UInt8]? = nil,
        redirects: Redirects = .follow, deadline: TransferLimits = .init()
    ) {
        self.url = url
        self.method = method
        self.range = range
        self.headers = headers
        self.body = body
        self.redirects = redirects
        self.deadline = deadline
    }
}

/// Time limits on one transfer: nothing waits forever.
public struct TransferLimits: Sendable, Equatable {
    /// The whole request, connect to last byte.
    public var totalMilliseconds: Int
    public var connectMilliseconds: Int
    /// A transfer slower than 1 byte/s for this long is a stall.
    public var stallSeconds: Int

    public init(totalMilliseconds: Int, connectMilliseconds: Int, stallSeconds: Int) {
        self.totalMilliseconds = totalMilliseconds
        self.connectMilliseconds = connectMilliseconds
        self.stallSeconds = stallSeconds
    }

    /// What the process was configured with (see `NetworkDefaults`).
    public init() {
        self = NetworkDefaults.limits
    }

    public static let builtIn = TransferLimits(totalMilliseconds: 120_000, connectMilliseconds: 10_000, stallSeconds: 15)
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lower-cased; only the final response's headers (after redirects).
    public var headers: [String: String]
    public var body: [UInt8]
    /// How many times the request was sent to get this answer.
    public var attempts = 1

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}
