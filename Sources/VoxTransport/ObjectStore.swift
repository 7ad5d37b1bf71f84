/// The bytes of one remote object (or a byte range of it).
public struct FetchedObject: Sendable, Equatable {
    public var bytes: [UInt8]
    /// ETag, or Last-Modified plus size, when the server gives one: identifies this version of the object.
    public var validator: String?

    public init(bytes: [UInt8], validator: String? = nil) {
        self.bytes = bytes
        self.validator = validator
    }
}

/// A read-only key/value view of a remote prefix: the one seam every volume source reads through.
///
/// `fetch` returns nil when the object does not exist (HTTP 404, missing file), and throws
/// for every other failure, so "missing" can never be confused with "failed".
public protocol ObjectStore: Sendable {
    /// Where keys resolve, for messages: e.g. `http://host/path`.
    var location: String { get }

    /// The whole object, or exactly `range` of it.
    func fetch(_ key: String, range: Range<Int>?) async throws -> FetchedObject?
}

extension ObjectStore {
    public func fetch(_ key: String) async throws -> FetchedObject? {
        try await fetch(key, range: nil)
    }

    /// The URL a key resolves to, for messages.
    public func describe(_ key: String) -> String {
        key.isEmpty ? location : location + "/" + key
    }
}
