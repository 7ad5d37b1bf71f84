import Synchronization

/// Live hit/miss/eviction counts of one cache tier.
public final class CacheCounters: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var hits: Int
        public var misses: Int
        public var evictions: Int
    }

    let hits = Atomic<Int>(0)
    let misses = Atomic<Int>(0)
    let evictions = Atomic<Int>(0)

    public func snapshot() -> Snapshot {
        Snapshot(
            hits: hits.load(ordering: .relaxed), misses: misses.load(ordering: .relaxed),
            evictions: evictions.load(ordering: .relaxed))
    }
}
