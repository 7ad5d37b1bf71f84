import Synchronization
import Testing
import VoxCache

@Suite struct MemoryCacheTests {
    @Test func evictsLeastRecentlyUsedDownToNinetyPercent() async throws {
        let cache = MemoryCache<[UInt8]>(capacity: 1000)
        for key in 0..<10 {
            _ = try await cache.value(for: "\(key)", cost: { $0.count }) { [UInt8](repeating: 0, count: 100) }
        }
        #expect(cache.totalCost == 1000)
        _ = cache.cached("0")  // touch: 0 is now the most recent
        _ = try await cache.value(for: "10", cost: { $0.count }) { [UInt8](repeating: 0, count: 100) }
        #expect(cache.totalCost <= 900)
        #expect(cache.cached("0") != nil)
        #expect(cache.cached("1") == nil)
        #expect(cache.cached("2") == nil)
        #expect(cache.cached("10") != nil)
    }

    @Test func concurrentMissesShareOneLoad() async throws {
        let cache = MemoryCache<Int>(capacity: 1 << 20)
        let loads = LoadCounter()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    try await cache.value(for: "k", cost: { _ in 8 }) {
                        loads.increment()
                        try await Task.sleep(for: .milliseconds(50))
                        return 42
                    }
                }
            }
            for try await value in group { #expect(value == 42) }
        }
        #expect(loads.count == 1)
        #expect(cache.statistics.hits + cache.statistics.misses == 50)
    }

    /// A cancelled caller stops waiting at once; the shared load goes on and serves the others.
    @Test(.timeLimit(.minutes(1)))
    func aCancelledWaiterStopsWaitingButTheLoadGoesOn() async throws {
        let cache = MemoryCache<Int>(capacity: 100)
        let release = AsyncStream<Void>.makeStream()
        let load: @Sendable () async throws -> Int = {
            for await _ in release.stream { break }
            return 42
        }
        let cancelled = Task { try await cache.value(for: "k", cost: { _ in 1 }, load: load) }
        let patient = Task { try await cache.value(for: "k", cost: { _ in 1 }, load: load) }
        try await Task.sleep(for: .milliseconds(50))
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        release.continuation.yield()
        #expect(try await patient.value == 42)
        #expect(cache.cached("k") == 42)
    }

    /// When its last waiter gives up, the load itself is cancelled (and its transfers with it).
    @Test(.timeLimit(.minutes(1)))
    func aLoadNobodyWaitsForIsCancelled() async throws {
        let cache = MemoryCache<Int>(capacity: 100)
        let stopped = AsyncStream<Void>.makeStream()
        let waiter = Task {
            try await cache.value(for: "k", cost: { _ in 1 }) {
                do { try await Task.sleep(for: .seconds(30)) } catch { stopped.continuation.yield(); throw error }
                return 1
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        for await _ in stopped.stream { break }  // the load saw the cancellation
        #expect(try await cache.value(for: "k", cost: { _ in 1 }, load: { 2 }) == 2)  // a new caller loads afresh
    }

    @Test func aKeyBeingLoadedCountsAsPresentForPrefetch() async throws {
        let cache = MemoryCache<Int>(capacity: 1 << 20)
        let started = LoadCounter()
        #expect(!cache.isCachedOrLoading("k"))
        let load = Task {
            try await cache.value(for: "k", cost: { _ in 8 }) {
                started.increment()
                try await Task.sleep(for: .milliseconds(200))
                return 1
            }
        }
        while started.count == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(cache.isCachedOrLoading("k"))
        _ = try await load.value
        #expect(cache.isCachedOrLoading("k"))
        #expect(!cache.isCachedOrLoading("other"))
    }

    @Test func failedLoadsAreNotCached() async throws {
        struct Boom: Error {}
        let cache = MemoryCache<Int>(capacity: 1024)
        await #expect(throws: Boom.self) { try await cache.value(for: "k", cost: { _ in 8 }) { throw Boom() } }
        #expect(try await cache.value(for: "k", cost: { _ in 8 }) { 7 } == 7)
    }

    @Test func valuesLargerThanTheCacheAreServedNotKept() async throws {
        let cache = MemoryCache<[UInt8]>(capacity: 10)
        let value = try await cache.value(for: "big", cost: { $0.count }) { [UInt8](repeating: 1, count: 100) }
        #expect(value.count == 100)
        #expect(cache.totalCost == 0)
    }
}

final class LoadCounter: Sendable {
    private let value = Mutex(0)
    func increment() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

@Suite struct ByteLimiterTests {
    @Test func neverGrantsMoreThanTheCapacity() async throws {
        let limiter = ByteLimiter(capacity: 100)
        let peak = PeakTracker()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask {
                    try await limiter.withBudget(10 + i % 30) {
                        peak.add(10 + i % 30)
                        try await Task.sleep(for: .milliseconds(2))
                        peak.add(-(10 + i % 30))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(peak.maximum <= 100)
        #expect(peak.maximum >= 30)
    }

    @Test func oversizedRequestsAreClampedNotStuck() async throws {
        let limiter = ByteLimiter(capacity: 10)
        let value = try await limiter.withBudget(1_000) { 5 }
        #expect(value == 5)
    }
}

final class PeakTracker: Sendable {
    private let state = Mutex((current: 0, maximum: 0))
    func add(_ n: Int) { state.withLock { $0.current += n; $0.maximum = max($0.maximum, $0.current) } }
    var maximum: Int { state.withLock { $0.maximum } }
}
