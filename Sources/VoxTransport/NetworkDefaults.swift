import Synchronization

/// The deadlines and retry bound every HTTP client of the process starts from: built-in
/// values, or what the mount's options (`request_timeout=`, `stall_timeout=`,
/// `connect_timeout=`, `attempts=`) set before any source is opened.
public enum NetworkDefaults {
    private static let state = Mutex((limits: TransferLimits.builtIn, attempts: RetryPolicy.builtInAttempts))

    public static var limits: TransferLimits { state.withLock { $0.limits } }
    public static var retry: RetryPolicy { RetryPolicy(maxAttempts: state.withLock { $0.attempts }) }

    public static func set(limits: TransferLimits, attempts: Int) {
        state.withLock { $0 = (limits, attempts) }
    }
}
