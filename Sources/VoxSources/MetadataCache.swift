import VoxCache
import VoxTransport

/// Small metadata objects (e.g. `info`) fetched fresh when the server answers, and from the
/// disk cache when it does not: a mount with the server down still comes up with what was
/// read before.
public enum MetadataCache {
    /// The object, or nil when the server says it does not exist. A transport failure falls
    /// back to the last copy on disk, if there is one.
    public static func fetch(_ key: String, from store: any ObjectStore, disk: DiskCache?) async throws -> FetchedObject? {
        let cacheKey = "meta|" + store.describe(key)
        do {
            guard let object = try await store.fetch(key) else { return nil }
            await disk?.store(cacheKey, .bytes(encode(object)))
            return object
        } catch {
            guard case let .bytes(stored)? = disk?.read(cacheKey), let object = decode(stored) else { throw error }
            return object
        }
    }

    /// Validator, newline, body (validators come from HTTP headers, which cannot hold a newline).
    static func encode(_ object: FetchedObject) -> [UInt8] {
        Array((object.validator ?? "").utf8) + [0x0A] + object.bytes
    }

    static func decode(_ bytes: [UInt8]) -> FetchedObject? {
        guard let newline = bytes.firstIndex(of: 0x0A) else { return nil }
        let validator = String(decoding: bytes[..<newline], as: UTF8.self)
        return FetchedObject(bytes: Array(bytes[(newline + 1)...]), validator: validator.isEmpty ? nil : validator)
    }
}
