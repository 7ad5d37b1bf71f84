import Synchronization

/// A byte-bounded LRU of decoded values, with single-flight loading: concurrent requests
/// for a missing key share one load.
///
/// Eviction is least-recently-used with hysteresis: once over the bound, entries are
/// dropped until the total is at most 90% of it, so a full cache does not evict on every insert.
public final class MemoryCache<Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var cost: Int
        var lastUse: UInt64
    }

    /// What a lookup found.
    private enum Found { case hit(Value), pending(Task<Value, any Error>, UInt64) }

    /// A load in progress, and how many callers wait for it.
    private struct Load {
        var task: Task<Value, any Error>
        var id: UInt64
        var waiters: Int
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var loading: [String: Load] = [:]
        var nextLoad: UInt64 = 0
        var totalCost = 0
        var clock: UInt64 = 0
    }

    public let capacity: Int
    private let state = Mutex(State())
    private let counters = CacheCounters()

    public init(capacity: Int) {
        self.capacity = capacity
    }

    public var statistics: CacheCounters.Snapshot { counters.snapshot() }

    /// Bytes held right now.
    public var totalCost: Int { state.withLock { $0.totalCost } }

    /// The cached value, without loading.
    public func cached(_ key: String) -> Value? {
        state.withLock { Self.use(key, in: &$0) }
    }

    /// The values of all `keys` if every one is cached, each then marked used and counted
    /// as a hit; else nil, with nothing marked or counted (the caller loads them instead).
    public func cached(all keys: [String]) -> [Value]? {
        let values: [Value]? = state.withLock { state in
            var values: [Value] = []
            values.reserveCapacity(keys.count)
            for key in keys {
                guard let entry = state.entries[key] else { return nil }
                values.append(entry.value)
            }
            for key in keys { _ = Self.use(key, in: &state) }
            return values
        }
        if values != nil { counters.hits.add(keys.count, ordering: .relaxed) }
        return values
    }

    /// Whether `key` is cached (which counts as a use) or being loaded: a prefetch of it
    /// would add nothing.
    public func isCachedOrLoading(_ key: String) -> Bool {
        state.withLock { state in state.loading[key] != nil || Self.use(key, in: &state) != nil }
    }

    /// The cached value for `key`, marked as the most recently used.
    private static func use(_ key: String, in state: inout State) -> Value? {
        state.clock += 1
        state.entries[key]?.lastUse = state.clock
        return state.entries[key]?.value
    }

    /// Makes `key` the first to be evicted: for values a sequential reader has finished with,
    /// which would otherwise outlive the read-ahead values it has not reached yet.
    public func demote(_ key: String) {
        state.withLock { state in
            state.entries[key]?.lastUse = 0
        }
    }

    /// The value for `key`, loading it once however many callers ask at the same time.
    ///
    /// A failed load is not cached: a later caller tries again. A
    /// caller that is cancelled stops waiting at once; the shared load goes on while anyone
    /// still waits, and is cancelled (its transfers with it) when nobody does.
    public func value(
        for key: String, cost: @escaping @Sendable (Value) -> Int,
        load: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let found: Found = state.withLock { state in
            state.clock += 1
            if var entry = state.entries[key] {
                entry.lastUse = state.clock
                state.entries[key] = entry
                return .hit(entry.value)
            }
            if var pending = state.loading[key] {
                pending.waiters += 1
                state.loading[key] = pending
                return .pending(pending.task, pending.id)
            }
            state.nextLoad += 1
            let id = state.nextLoad
            let task = Task { try await self.loadAndInsert(key, id: id, cost: cost, load: load) }
            state.loading[key] = Load(task: task, id: id, waiters: 1)
            return .pending(task, id)
        }
        switch found {
        case let .hit(value):
            counters.hits.add(1, ordering: .relaxed)
            return value
        case let .pending(task, id):
            counters.misses.add(1, ordering: .relaxed)
            return try await awaitCancellably(task, key: key, id: id)
        }
    }

    /// Holds a waiter's continuation until the load or a cancellation resumes it, once.
    private final class Waiter: Sendable {
        let continuation = Mutex<CheckedContinuation<Value, any Error>?>(nil)
        /// False when the continuation was already resumed.
        @discardableResult
        func resume(with result: Result<Value, any Error>) -> Bool {
            guard let continuation = continuation.withLock({ $0.take() }) else { return false }
            continuation.resume(with: result)
            return true
        }
    }

    /// The shared load's result, or `CancellationError` as soon as this caller is cancelled
    /// (a failed read must not wait for every other fetch of its slice).
    private func awaitCancellably(_ task: Task<Value, any Error>, key: String, id: UInt64) async throws -> Value {
        let waiter = Waiter()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiter.continuation.withLock { $0 = continuation }
                if Task.isCancelled, waiter.resume(with: .failure(CancellationError())) { self.leave(key, id: id) }
                Task {
                    let result = await task.result
                    if waiter.resume(with: result) { self.leave(key, id: id, cancelIfLast: false) }
                }
            }
        } onCancel: {
            if waiter.resume(with: .failure(CancellationError())) { self.leave(key, id: id) }
        }
    }

    /// One waiter of load `id` is gone; the last one to give up cancels the load.
    private func leave(_ key: String, id: UInt64, cancelIfLast: Bool = true) {
        let abandoned: Task<Value, any Error>? = state.withLock { state in
            guard var pending = state.loading[key], pending.id == id else { return nil }
            pending.waiters -= 1
            guard pending.waiters <= 0, cancelIfLast else {
                state.loading[key] = pending
                return nil
            }
            state.loading[key] = nil  // a later caller starts afresh
            return pending.task
        }
        abandoned?.cancel()
    }

    private func loadAndInsert(
        _ key: String, id: UInt64, cost: @Sendable (Value) -> Int, load: @Sendable () async throws -> Value
    ) async throws -> Value {
        let result: Value
        do {
            result = try await load()
        } catch {
            state.withLock { state in
                if state.loading[key]?.id == id { state.loading[key] = nil }
            }
            throw error
        }
        insert(key, result, cost: cost(result))
        return result
    }

    /// Stores a value (replacing any old one) and evicts down to 90% if over the bound.
    public func insert(_ key: String, _ value: Value, cost: Int) {
        state.withLock { state in
            state.loading.removeValue(forKey: key)
            if let old = state.entries.removeValue(forKey: key) { state.totalCost -= old.cost }
            guard cost <= capacity else { return }  // larger than the whole cache: serve, don't keep
            state.clock += 1
            state.entries[key] = Entry(value: value, cost: cost, lastUse: state.clock)
            state.totalCost += cost
            if state.totalCost > capacity { evict(&state, downTo: capacity / 10 * 9) }
        }
    }

    private func evict(_ state: inout State, downTo target: Int) {
        let oldestFirst = state.entries.sorted { $0.value.lastUse < $1.value.lastUse }
        for (key, entry) in oldestFirst {
            if state.totalCost <= target { break }
            state.entries.removeValue(forKey: key)
            state.totalCost -= entry.cost
            counters.evictions.add(1, ordering: .relaxed)
        }
    }
}
