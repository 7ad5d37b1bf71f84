import VoxTransport

/// A mount's `source`: a format prefix and a storage URL, e.g. `precomputed://gs://bucket/layer`.
public struct SourceSpec: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        case precomputed
    }

    public var format: Format
    /// The storage URL after the format prefix.
    public var storageURL: String

    public init(parsing text: String) throws(ConfigError) {
        guard let separator = text.range(of: "://") else {
            throw ConfigError("source '\(text)' needs a format prefix, e.g. precomputed://https://host/layer")
        }
        let name = String(text[..<separator.lowerBound])
        guard let format = Format(rawValue: name) else {
            let known = Format.allCases.map { $0.rawValue + "://" }.joined(separator: ", ")
            throw ConfigError("source '\(text)': unknown format '\(name)://' (known: \(known))")
        }
        self.format = format
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
