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

    private struct State {
        var entries: [String: Entry] = [:]
        var loading: [String: Task<Value, any Error>] = [:]
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
        state.withLock { state in
            state.clock += 1
            state.entries[key]?.lastUse = state.clock
            return state.entries[key]?.value
        }
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
    /// A failed load is not cached: the next caller tries again. A caller that is cancelled
    /// stops waiting, but the shared load goes on for the others.
    public func value(
        for key: String, cost: @escaping @Sendable (Value) -> Int,
        load: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let (hit, pending): (Value?, Task<Value, any Error>?) = state.withLock { state in
            state.clock += 1
            if var entry = state.entries[key] {
                entry.lastUse = state.clock
                state.entries[key] = entry
                return (entry.value, nil)
            }
            if let task = state.loading[key] { return (nil, task) }
            let task = Task { try await self.loadAndInsert(key, cost: cost, load: load) }
            state.loading[key] = task
            return (nil, task)
        }
        if let hit {
            counters.hits.add(1, ordering: .relaxed)
            return hit
        }
        counters.misses.add(1, ordering: .relaxed)
        return try await Self.awaitCancellably(pending!)
    }

    /// Holds a waiter's continuation until the load or a cancellation resumes it, once.
    private final class Waiter: Sendable {
        let continuation = Mutex<CheckedContinuation<Value, any Error>?>(nil)
        func resume(with result: Result<Value, any Error>) { continuation.withLock { $0.take() }?.resume(with: result) }
    }

    /// The shared load's result, or `CancellationError` as soon as this caller is cancelled
    /// (a failed read must not wait for every other fetch of its slice).
    private static func awaitCancellably(_ task: Task<Value, any Error>) async throws -> Value {
        let waiter = Waiter()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiter.continuation.withLock { $0 = continuation }
                if Task.isCancelled { waiter.resume(with: .failure(CancellationError())) }
                Task { waiter.resume(with: await task.result) }
            }
        } onCancel: {
            waiter.resume(with: .failure(CancellationError()))
        }
    }

    private func loadAndInsert(
        _ key: String, cost: @Sendable (Value) -> Int, load: @Sendable () async throws -> Value
    ) async throws -> Value {
        let result: Value
        do {
            result = try await load()
        } catch {
            _ = state.withLock { $0.loading.removeValue(forKey: key) }
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
