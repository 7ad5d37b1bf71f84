import Synchronization

/// An in-memory store for tests: objects by key, with a count of fetches.
public final class MemoryStore: ObjectStore {
    private let objects: Mutex<[String: [UInt8]]>
    private let fetches = Atomic<Int>(0)
    public let location: String

    public init(_ objects: [String: [UInt8]] = [:], location: String = "memory://") {
        self.objects = Mutex(objects)
        self.location = location
    }

    public func put(_ key: String, _ bytes: [UInt8]) {
        objects.withLock { $0[key] = bytes }
    }

    public func remove(_ key: String) {
        _ = objects.withLock { $0.removeValue(forKey: key) }
    }

    public var fetchCount: Int { fetches.load(ordering: .relaxed) }

    public func fetch(_ key: String, range: Range<Int>?) async throws -> FetchedObject? {
        fetches.add(1, ordering: .relaxed)
        guard let bytes = objects.withLock({ $0[key] }) else { return nil }
        guard let range else { return FetchedObject(bytes: bytes) }
        guard range.lowerBound >= 0, range.upperBound <= bytes.count else {
            throw StoreError.badRange("range \(range) outside \(bytes.count) bytes", url: describe(key))
        }
        return FetchedObject(bytes: Array(bytes[range]))
    }
}
