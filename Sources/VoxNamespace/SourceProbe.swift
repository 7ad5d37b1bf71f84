import VoxFileTree
import VoxSources
import VoxTransport

/// What a source is, read from its metadata without mounting it: one row of
/// `voxfs check --online`.
public struct SourceProbe: Sendable {
    public var path: String
    /// `image`, `segmentation` or `files`.
    public var kind: String
    /// Scale keys, finest first (empty for file trees).
    public var scales: [String]
    public var dataType: String
    /// Voxels of the finest scale (x, y, z), or entries in the tree's root.
    public var size: String
    public var chunkSize: String
    public var encoding: String

    /// Fetches the source's metadata (a precomputed `info`, or a tree's root listing).
    public static func probe(_ mount: MountConfig.Mount, environment: [String: String]) async throws -> SourceProbe {
        switch mount.source.format {
        case .precomputed, .ocp, .bossdb, .hdf5grid:
            let volume = try await MountedTree.openVolume(mount, environment: environment, caches: .inMemory(), blocks: .inMemory())
            let finest = volume.info.scales[0].geometry
            func axes(_ v: Vec3) -> String { "\(v.x)×\(v.y)×\(v.z)" }
            let channels = volume.channelCount > 1 ? "×\(volume.channelCount)" : ""
            return SourceProbe(
                path: mount.path, kind: volume.info.layerType, scales: volume.scales.map(\.key),
                dataType: volume.dataType.rawValue + channels, size: axes(finest.size), chunkSize: axes(finest.chunkSize),
                encoding: Set(volume.scales.map(\.encoding)).sorted().joined(separator: ","))
        case .files:
            let blocks = "\(mount.blockSize) B blocks"
            switch try await MountedTree.treeRoot(mount, environment: environment, disk: nil) {
            case let .file(_, _, version):
                return SourceProbe(path: mount.path, kind: "file", scales: [], dataType: "-", size: "\(version.size) bytes",
                                   chunkSize: blocks, encoding: "-")
            case let .directory(tree):
                let listing = try await tree.list("")
                return SourceProbe(path: mount.path, kind: "files", scales: [], dataType: "-",
                                   size: "\(listing.entries.count) entries", chunkSize: blocks, encoding: "-")
            }
        }
    }
}
