/// Every way a fetch can fail other than "not found".
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with a status that is neither success nor 404.
    case httpStatus(Int, url: String)
    /// The connection failed, stalled or ran past its deadline.
    case transport(String, url: String)
    /// The server ignored or mangled a range request.
    case badRange(String, url: String)
    /// The stored bytes could not be read or decoded (e.g. corrupt gzip).
    case corrupt(String, url: String)

    public var description: String {
        switch self {
        case let .httpStatus(code, url): "HTTP \(code) from \(url)"
        case let .transport(message, url): "\(message) (\(url))"
        case let .badRange(message, url): "bad range response from \(url): \(message)"
        case let .corrupt(message, url): "corrupt data from \(url): \(message)"
        }
    }

    /// Whether trying again may succeed.
    public var isRetryable: Bool {
        switch self {
        case let .httpStatus(code, _): code == 429 || (500...599).contains(code)
        case .transport: true
        case .badRange, .corrupt: false
        }
    }
}
