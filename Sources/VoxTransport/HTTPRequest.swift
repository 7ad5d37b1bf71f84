/// One HTTP GET as the curl engine runs it.
public struct HTTPRequest: Sendable {
    public var url: String
    public var range: Range<Int>?
    public var headers: [String]
    public var deadline: TransferLimits

    public init(url: String, range: Range<Int>? = nil, headers: [String] = [], deadline: TransferLimits = .init()) {
        self.url = url
        self.range = range
        self.headers = headers
        self.deadline = deadline
    }
}

/// Time limits on one transfer: nothing waits forever.
public struct TransferLimits: Sendable {
    /// The whole request, connect to last byte.
    public var totalMilliseconds: Int
    public var connectMilliseconds: Int
    /// A transfer slower than 1 byte/s for this long is a stall.
    public var stallSeconds: Int

    public init(totalMilliseconds: Int = 120_000, connectMilliseconds: Int = 10_000, stallSeconds: Int = 15) {
        self.totalMilliseconds = totalMilliseconds
        self.connectMilliseconds = connectMilliseconds
        self.stallSeconds = stallSeconds
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lower-cased; only the final response's headers (after redirects).
    public var headers: [String: String]
    public var body: [UInt8]
}
