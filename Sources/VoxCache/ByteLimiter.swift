import Synchronization

/// A weighted async semaphore: bounds the bytes of work in flight across a whole mount,
/// so concurrent reads of wide planes cannot together decode more than the budget.
///
/// A request larger than the whole budget is clamped to it, so every request can proceed
/// once the others finish.
public final class ByteLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [(bytes: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    public let capacity: Int
    private let state: Mutex<State>

    public init(capacity: Int) {
        self.capacity = capacity
        self.state = Mutex(State(available: capacity))
    }

    /// Waits for `bytes` of budget; returns the amount actually taken, to pass to `release`.
    public func acquire(_ bytes: Int) async -> Int {
        let wanted = min(max(bytes, 0), capacity)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                // First come, first served: don't let small requests starve a large one.
                if state.waiters.isEmpty && state.available >= wanted {
                    state.available -= wanted
                    return true
                }
                state.waiters.append((wanted, continuation))
                return false
            }
            if granted { continuation.resume() }
        }
        return wanted
    }

    /// Takes `bytes` only if that leaves at least `reserve` free and nobody is waiting: for
    /// optional work such as prefetch, which must never delay a reader.
    public func tryAcquire(_ bytes: Int, leaving reserve: Int) -> Int? {
        let wanted = min(max(bytes, 0), capacity)
        return state.withLock { state in
            guard state.waiters.isEmpty, state.available - wanted >= reserve else { return nil }
            state.available -= wanted
            return wanted
        }
    }

    public func release(_ bytes: Int) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.available += bytes
            var ready: [CheckedContinuation<Void, Never>] = []
            while let first = state.waiters.first, first.bytes <= state.available {
                state.available -= first.bytes
                ready.append(first.continuation)
                state.waiters.removeFirst()
            }
            return ready
        }
        ready.forEach { $0.resume() }
    }

    /// Runs `body` holding `bytes` of budget.
    public func withBudget<T: Sendable>(_ bytes: Int, _ body: () async throws -> T) async throws -> T {
        let taken = await acquire(bytes)
        defer { release(taken) }
        return try await body()
    }
}
