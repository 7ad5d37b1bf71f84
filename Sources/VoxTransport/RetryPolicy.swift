/// Bounded retries with full-jitter exponential backoff.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelayMilliseconds: Int
    public var maxDelayMilliseconds: Int

    public static let builtInAttempts = 4

    /// With no arguments: the process's configured attempts (see `NetworkDefaults`).
    public init() {
        self = NetworkDefaults.retry
    }

    public init(maxAttempts: Int, baseDelayMilliseconds: Int = 100, maxDelayMilliseconds: Int = 2_000) {
        self.maxAttempts = maxAttempts
        self.baseDelayMilliseconds = baseDelayMilliseconds
        self.maxDelayMilliseconds = maxDelayMilliseconds
    }

    /// The pause before attempt `attempt` (1-based retry count).
    public func delay(beforeRetry attempt: Int) -> Duration {
        let ceiling = min(maxDelayMilliseconds, baseDelayMilliseconds << min(attempt, 16))
        return .milliseconds(Int.random(in: 0...max(ceiling, 1)))
    }
}
