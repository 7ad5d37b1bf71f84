/// Every way a fetch can fail other than "not found".
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with a status that is neither success nor 404.
    case httpStatus(Int, url: String)
    /// The connection failed, stalled or ran past its deadline.
    case transport(String, url: String)
    /// Not sent: the host's requests time out and a probe just did too (see `HostAdmission`).
    /// Not retried: the next request probes again.
    case unresponsive(String, url: String)
    /// The server ignored or mangled a range request.
    case badRange(String, url: String)
    /// The stored bytes could not be read or decoded (e.g. corrupt gzip).
    case corrupt(String, url: String)
    /// The object is no longer the version that was listed: mixing its bytes would be wrong.
    case changed(String, url: String)
    /// A redirect that is not followed (to another host, too many, or malformed).
    case badRedirect(String, url: String)
    /// The server refused with a status and said why (cutout services explain their errors).
    case rejected(Int, message: String, url: String)
    /// The last failure of a request that was tried `attempts` times.
    indirect case exhausted(StoreError, attempts: Int)

    public var description: String {
        switch self {
        case let .httpStatus(code, url): "HTTP \(code) from \(url)"
        case let .transport(message, url), let .unresponsive(message, url): "\(message) (\(url))"
        case let .badRange(message, url): "bad range response from \(url): \(message)"
        case let .corrupt(message, url): "corrupt data from \(url): \(message)"
        case let .changed(message, url): "\(url) changed on the server: \(message)"
        case let .badRedirect(message, url): "refused redirect from \(url): \(message)"
        case let .rejected(code, message, url): "HTTP \(code) from \(url): \(message)"
        case let .exhausted(error, attempts): "\(error.description) after \(attempts) tries"
        }
    }

    /// Whether trying again may succeed.
    public var isRetryable: Bool {
        switch self {
        case let .httpStatus(code, _): Self.isRetryable(status: code)
        case .transport: true
        case .unresponsive, .badRange, .corrupt, .changed, .badRedirect, .rejected, .exhausted: false
        }
    }

    /// The error for a response's status, saying how many tries it took when it took several.
    /// The server's own explanation is kept when it gave a short one.
    public static func status(_ response: HTTPResponse, url: String) -> StoreError {
        let message = ServerMessage.extract(response.body)
        let error = message.map { StoreError.rejected(response.status, message: $0, url: url) } ?? .httpStatus(response.status, url: url)
        return response.attempts > 1 ? .exhausted(error, attempts: response.attempts) : error
    }

    /// The HTTP status behind this error, if it came from one.
    public var status: Int? {
        switch self {
        case let .httpStatus(code, _), let .rejected(code, _, _): code
        case let .exhausted(inner, _): inner.status
        default: nil
        }
    }

    public static func isRetryable(status: Int) -> Bool {
        status == 429 || (500...599).contains(status)
    }
}
