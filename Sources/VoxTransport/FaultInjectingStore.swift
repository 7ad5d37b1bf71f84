import Synchronization

/// Wraps a store and fails chosen fetches, for tests of error paths.
public final class FaultInjectingStore: ObjectStore {
    public enum Fault: Sendable {
        /// Throw this error.
        case fail(StoreError)
        /// Answer "not found".
        case missing
        /// Return these bytes instead of the real ones.
        case replace([UInt8])
    }

    private let inner: any ObjectStore
    private let rule: @Sendable (String) -> Fault?
    private let injected = Atomic<Int>(0)

    /// `rule` is asked for every key; nil passes the fetch through.
    public init(wrapping inner: any ObjectStore, rule: @escaping @Sendable (String) -> Fault?) {
        self.inner = inner
        self.rule = rule
    }

    public var location: String { inner.location }
    public var injectedCount: Int { injected.load(ordering: .relaxed) }

    public func fetch(_ key: String, range: Range<Int>?) async throws -> FetchedObject? {
        guard let fault = rule(key) else { return try await inner.fetch(key, range: range) }
        injected.add(1, ordering: .relaxed)
        switch fault {
        case let .fail(error): throw error
        case .missing: return nil
        case let .replace(bytes): return FetchedObject(bytes: bytes)
        }
    }
}
