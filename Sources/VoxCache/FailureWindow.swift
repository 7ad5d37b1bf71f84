import Synchronization

/// When a source last failed to load something: speculative work (readahead, prefetch of
/// the next plane) waits out a short window after a failure, so a failing or stalled server
/// is not handed more requests that hold connections and memory while real reads wait.
public final class FailureWindow: Sendable {
    private let last = Mutex<ContinuousClock.Instant?>(nil)
    public let length: Duration

    public init(length: Duration = .seconds(5)) {
        self.length = length
    }

    public func note() {
        last.withLock { $0 = .now }
    }

    /// Whether a failure was noted within the window.
    public var isOpen: Bool {
        last.withLock { $0.map { ContinuousClock.now - $0 < length } ?? false }
    }
}
