import Synchronization

/// Live counters of the disk tier.
public final class DiskCacheCounters: Sendable {
    public struct Snapshot: Sendable, Equatable, Codable {
        public var hits = 0
        public var misses = 0
        public var writes = 0
        public var corrupt = 0
        public var evictions = 0
        public var skippedLowSpace = 0
        /// Entries not written because the write buffer was full (see `storeIfIdle`).
        public var skippedBusy = 0
        public var bytesRead = 0
        public var bytesWritten = 0
    }

    let hits = Atomic<Int>(0), misses = Atomic<Int>(0), writes = Atomic<Int>(0), corrupt = Atomic<Int>(0)
    let evictions = Atomic<Int>(0), skippedLowSpace = Atomic<Int>(0), skippedBusy = Atomic<Int>(0), bytesRead = Atomic<Int>(0), bytesWritten = Atomic<Int>(0)

    public func snapshot() -> Snapshot {
        Snapshot(
            hits: hits.load(ordering: .relaxed), misses: misses.load(ordering: .relaxed),
            writes: writes.load(ordering: .relaxed), corrupt: corrupt.load(ordering: .relaxed),
            evictions: evictions.load(ordering: .relaxed), skippedLowSpace: skippedLowSpace.load(ordering: .relaxed),
            skippedBusy: skippedBusy.load(ordering: .relaxed),
            bytesRead: bytesRead.load(ordering: .relaxed), bytesWritten: bytesWritten.load(ordering: .relaxed))
    }
}
