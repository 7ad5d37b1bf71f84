import Synchronization

/// What the mount has answered: read replies, bytes in them, and reads that failed.
public final class ServedCounters: Sendable {
    public struct Snapshot: Sendable, Codable, Equatable {
        public var reads = 0
        public var bytes = 0
        public var errors = 0
    }

    let reads = Atomic<Int>(0), bytes = Atomic<Int>(0), errors = Atomic<Int>(0)

    public init() {}

    public func snapshot() -> Snapshot {
        Snapshot(reads: reads.load(ordering: .relaxed), bytes: bytes.load(ordering: .relaxed), errors: errors.load(ordering: .relaxed))
    }
}
