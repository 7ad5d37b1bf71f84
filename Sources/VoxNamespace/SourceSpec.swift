import VoxFileTree
import VoxTransport

/// A mount's `source`: a precomputed layer (`precomputed://gs://bucket/layer`) or a file
/// tree (`https://host/dir/`, `webdav+https://...`, `s3://...`, `gs://...`, `file:///...`).
public struct SourceSpec: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        case precomputed
        /// Plain files, served as they are.
        case files
    }

    public var format: Format
    /// The storage URL after the format prefix (for files, the whole URL).
    public var storageURL: String

    public init(parsing text: String) throws(ConfigError) {
        if TreeLocation.isTreeURL(text) {
            format = .files
            storageURL = text
            do { _ = try TreeLocation.tree(for: text, environment: [:]) } catch { throw ConfigError("source '\(text)': \(error)") }
            return
        }
        guard let separator = text.range(of: "://") else {
            throw ConfigError("source '\(text)' needs a format prefix, e.g. precomputed://https://host/layer, or a file-tree URL")
        }
        let name = String(text[..<separator.lowerBound])
        guard name == Format.precomputed.rawValue else {
            throw ConfigError("source '\(text)': unknown format '\(name)://' (known: precomputed://, or a file tree: "
                              + TreeLocation.schemes.joined(separator: ", ") + ")")
        }
        self.format = .precomputed
        self.storageURL = String(text[separator.upperBound...])
        while storageURL.hasSuffix("/") && !storageURL.hasSuffix("://") { storageURL.removeLast() }
        do {
            _ = try StoreLocation.store(for: storageURL, environment: [:])
        } catch {
            throw ConfigError("source '\(text)': \(error)")
        }
    }

    public func store(environment: [String: String]) throws -> any ObjectStore {
        try StoreLocation.store(for: storageURL, environment: environment)
    }
}
