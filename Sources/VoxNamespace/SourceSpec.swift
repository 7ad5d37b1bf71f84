import VoxFileTree
import VoxTransport

/// A mount's `source`: a precomputed layer (`precomputed://gs://bucket/layer`), a cutout
/// service (`ocp+https://host/ocp/ca/<token>`, `bossdb://<collection>/<experiment>/<channel>`)
/// a directory of HDF5 cubes (`hdf5grid+webdav+https://host/dir/`) or a file tree (`https://host/dir/`, `webdav+https://...`, `s3://...`, `gs://...`, `file:///...`).
public struct SourceSpec: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        case precomputed
        /// Plain files, served as they are.
        case files
        /// An OCP/NeuroData ndstore token.
        case ocp
        /// A BossDB channel.
        case bossdb
        /// A directory of HDF5 cubes tiling one volume.
        case hdf5grid
    }

    public var format: Format
    /// The storage URL after the format prefix (for files, the whole URL; for BossDB,
    /// `collection/experiment/channel`).
    public var storageURL: String

    public init(parsing text: String) throws(ConfigError) {
        if text.hasPrefix("hdf5grid+") {
            format = .hdf5grid
            storageURL = String(text.dropFirst("hdf5grid+".count))
            if !storageURL.hasSuffix("/") { storageURL += "/" }
            guard TreeLocation.isTreeURL(storageURL) else {
                throw ConfigError("source '\(text)': expected hdf5grid+ before a directory URL (" + TreeLocation.schemes.joined(separator: ", ") + ")")
            }
            do { _ = try TreeLocation.tree(for: storageURL, environment: [:]) } catch { throw ConfigError("source '\(text)': \(error)") }
            return
        }
        if TreeLocation.isTreeURL(text) {
            format = .files
            storageURL = text
            do { _ = try TreeLocation.tree(for: text, environment: [:]) } catch { throw ConfigError("source '\(text)': \(error)") }
            return
        }
        if text.hasPrefix("ocp+http://") || text.hasPrefix("ocp+https://") {
            format = .ocp
            storageURL = String(text.dropFirst("ocp+".count))
            while storageURL.hasSuffix("/") { storageURL.removeLast() }
            let parts = storageURL.split(separator: "/", omittingEmptySubsequences: true)
            guard parts.count >= 3 else { throw ConfigError("source '\(text)': expected ocp+http(s)://host/<path>/<token>") }
            return
        }
        if text.hasPrefix("bossdb://") {
            format = .bossdb
            storageURL = String(text.dropFirst("bossdb://".count))
            while storageURL.hasSuffix("/") { storageURL.removeLast() }
            let parts = storageURL.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else {
                throw ConfigError("source '\(text)': expected bossdb://<collection>/<experiment>/<channel>")
            }
            return
        }
        guard let separator = text.range(of: "://") else {
            throw ConfigError("source '\(text)' needs a format prefix, e.g. precomputed://https://host/layer, or a file-tree URL")
        }
        let name = String(text[..<separator.lowerBound])
        guard name == Format.precomputed.rawValue else {
            throw ConfigError("source '\(text)': unknown format '\(name)://' (known: precomputed://, ocp+http(s)://, bossdb://, hdf5grid+<tree URL>, or a file tree: "
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

    /// The source as a config names it, e.g. `precomputed://gs://bucket/layer`.
    public var text: String {
        switch format {
        case .precomputed: "precomputed://" + storageURL
        case .files: storageURL
        case .ocp: "ocp+" + storageURL
        case .bossdb: "bossdb://" + storageURL
        case .hdf5grid: "hdf5grid+" + storageURL
        }
    }

    public func store(environment: [String: String]) throws -> any ObjectStore {
        try StoreLocation.store(for: storageURL, environment: environment)
    }
}
