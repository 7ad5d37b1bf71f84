import Synchronization

/// Process-wide counts of network traffic, for `/.voxfs/stats.json`.
public final class TransportCounters: Sendable {
    public static let shared = TransportCounters()

    public struct Snapshot: Sendable, Codable, Equatable {
        public var requests = 0
        public var bytesFetched = 0
        public var inFlight = 0
        public var retries = 0
        public var errors = 0
        public var notFound = 0
    }

    let requests = Atomic<Int>(0), bytesFetched = Atomic<Int>(0), inFlight = Atomic<Int>(0)
    let retries = Atomic<Int>(0), errors = Atomic<Int>(0), notFound = Atomic<Int>(0)

    public init() {}

    public func snapshot() -> Snapshot {
        Snapshot(
            requests: requests.load(ordering: .relaxed), bytesFetched: bytesFetched.load(ordering: .relaxed),
            inFlight: inFlight.load(ordering: .relaxed), retries: retries.load(ordering: .relaxed),
            errors: errors.load(ordering: .relaxed), notFound: notFound.load(ordering: .relaxed))
    }
}
