import Foundation
import VoxCache
import VoxTransport

/// Keeps a tree's listings and file versions in the disk cache, and answers from there when
/// the server cannot be reached: files read (or prefetched) before stay readable offline.
///
/// Only unavailability falls back (connection failures, timeouts, 5xx after retries); an
/// answer such as 404 or a malformed listing is the server's word and is passed on.
public struct OfflineFallbackTree: FileTree {
    let inner: any FileTree
    let disk: DiskCache

    public init(_ inner: any FileTree, disk: DiskCache) {
        self.inner = inner
        self.disk = disk
    }

    public var location: String { inner.location }
    public func describe(_ path: String) -> String { inner.describe(path) }

    public func list(_ path: String) async throws -> Listing {
        try await remembered("listing|" + inner.describe(path) + "/") { try await inner.list(path) }
    }

    public func version(of path: String) async throws -> ObjectVersion? {
        try await remembered("version|" + inner.describe(path)) { try await inner.version(of: path) }
    }

    public func read(_ path: String, range: Range<Int>, version: ObjectVersion) async throws -> [UInt8] {
        try await inner.read(path, range: range, version: version)
    }

    private func remembered<Value: Codable>(_ key: String, _ fetch: () async throws -> Value) async throws -> Value {
        do {
            let value = try await fetch()
            if let encoded = try? JSONEncoder().encode(value) { await disk.store(key, .bytes(Array(encoded))) }
            return value
        } catch let error as StoreError where Self.meansUnavailable(error) {
            guard case let .bytes(bytes)? = await disk.load(key), let value = try? JSONDecoder().decode(Value.self, from: Data(bytes)) else {
                throw error
            }
            Log.info("\(key.drop { $0 != "|" }.dropFirst()): server unavailable (\(error)); using the cached copy")
            return value
        }
    }

    static func meansUnavailable(_ error: StoreError) -> Bool {
        switch error {
        case .transport, .unresponsive: true
        case let .exhausted(inner, _): meansUnavailable(inner)
        default: error.status.map(StoreError.isRetryable(status:)) ?? false
        }
    }
}
