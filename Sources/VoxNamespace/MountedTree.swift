import Foundation
import VoxCache
import VoxFileTree
import VoxSources
import VoxTransport
import VoxViews

/// Memory the whole mount shares, sized from one budget.
public struct MemoryBudget: Sendable {
    /// The whole budget (`--memory`).
    public let bytes: Int
    public let chunks: MemoryCache<DecodedChunk>
    /// Shard and minishard indexes.
    public let metadata: MemoryCache<[UInt8]>
    public let pngBands: MemoryCache<[UInt8]>
    /// Blocks of files of remote trees, read or read ahead.
    public let fileBlocks: MemoryCache<[UInt8]>
    public let inFlight: ByteLimiter
    /// Bytes of decoded chunks that may wait to be written to the disk cache.
    public let diskWriteBuffer: Int
    /// What the parts leave of the usable budget: free memory the allocator may keep.
    public let allocatorSlack: Int

    /// Headroom that is not the caches': the runtime and libraries, and the reply buffers of
    /// concurrent reads (a few MiB each).
    public static let fixedOverhead = 80 << 20

    /// Of what the overhead leaves: three eighths for cached decoded chunks, an eighth for file
    /// blocks, a quarter for chunks and blocks being fetched and copied, a sixteenth each for
    /// rendered PNG bands and for entries waiting to be written to disk, a thirty-second for
    /// shard indexes, and the rest for allocator slack.
    public init(bytes: Int = 512 << 20) {
        self.bytes = bytes
        let usable = max(bytes - Self.fixedOverhead, 16 << 20)
        chunks = MemoryCache(capacity: usable / 8 * 3)
        fileBlocks = MemoryCache(capacity: usable / 8)
        inFlight = ByteLimiter(capacity: usable / 4)
        pngBands = MemoryCache(capacity: usable / 16)
        metadata = MemoryCache(capacity: usable / 32)
        diskWriteBuffer = usable / 16
        allocatorSlack = usable - (usable / 8 * 3 + usable / 8 + usable / 4 + usable / 16 * 2 + usable / 32)
    }

    /// A larger kernel readahead speeds up sequential reads through FUSE, but the kernel then
    /// keeps up to 12 reads of up to 1 MiB in flight, each with its reply buffers: about
    /// 50 MiB more at peak, which the smallest budgets cannot spare.
    public var allowsLargeKernelReadahead: Bool { bytes >= 384 << 20 }

    func sourceCaches(disk: DiskCache?) -> SourceCaches {
        SourceCaches(chunks: chunks, metadata: metadata, disk: disk, inFlight: inFlight)
    }

    func blockCaches(disk: DiskCache?) -> FileBlockCaches {
        FileBlockCaches(memory: fileBlocks, disk: disk, inFlight: inFlight)
    }
}

/// The virtual tree for a config: every source opened and checked before anything is mounted.
public enum MountedTree {
    /// A mount that could not be opened, naming the config key and what went wrong.
    public struct OpenError: Error, CustomStringConvertible {
        public let description: String
    }

    /// - Parameters:
    ///   - disk: the persistent chunk cache, or nil to run without one.
    ///   - statistics: the content of the hidden `/.voxfs/stats.json`.
    public static func build(
        config: MountConfig, environment: [String: String], memory: MemoryBudget, disk: DiskCache? = nil,
        statistics: (@Sendable () -> [UInt8])? = nil
    ) async throws(OpenError) -> VirtualNode {
        let layers: [(String, VirtualNode)]
        do {
            layers = try await withThrowingTaskGroup(of: (String, VirtualNode).self) { group in
                for mount in config.mounts {
                    group.addTask { (mount.path, try await open(mount, environment: environment, memory: memory, disk: disk)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        } catch let error as OpenError {
            throw error
        } catch {
            throw OpenError(description: "\(error)")
        }
        let hidden = statistics.map { [(".voxfs", VirtualNode.directory(FixedDirectory([("stats.json", .liveFile($0))])))] } ?? []
        return assemble(layers, hidden: hidden)
    }

    private static func open(
        _ mount: MountConfig.Mount, environment: [String: String], memory: MemoryBudget, disk: DiskCache?
    ) async throws(OpenError) -> VirtualNode {
        do {
            if mount.source.format == .files {
                return try await openTree(mount, environment: environment, caches: memory.blockCaches(disk: disk))
            }
            let volume = try await openVolume(
                mount, environment: environment, caches: memory.sourceCaches(disk: disk), blocks: memory.blockCaches(disk: disk))
            let cutouts = CutoutSettings(
                maxBytes: mount.maxCutout, source: mount.source.text, scratchDirectory: disk?.directory ?? FileManager.default.temporaryDirectory.path)
            let extras = mount.source.format == .precomputed
                ? await SegmentationExtras.open(
                    path: mount.path, info: volume.info, store: try mount.source.store(environment: environment),
                    caches: memory.sourceCaches(disk: disk), files: memory.fileBlocks)
                : []
            return .directory(ImageLayerDirectory(
                path: mount.path, volume: volume, infoJSON: volume.info.rawJSON, bandCache: memory.pngBands, cutouts: cutouts,
                extras: extras))
        } catch {
            throw OpenError(description: "mounts.\(mount.path): \(error)")
        }
    }

    /// The volume behind a precomputed, OCP, BossDB or HDF5-grid mount, its metadata fetched
    /// and checked; `blocks` caches the files of a grid.
    static func openVolume(
        _ mount: MountConfig.Mount, environment: [String: String], caches: SourceCaches, blocks: FileBlockCaches
    ) async throws -> PrecomputedVolume {
        func setting(_ value: String?, _ variable: String, _ fallback: String) -> String {
            value ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
        }
        switch mount.source.format {
        case .precomputed:
            let store = try mount.source.store(environment: environment)
            return try await PrecomputedVolume.open(store: store, caches: caches, fillMissing: mount.fillMissing)
        case .ocp:
            return try await OCPVolume.open(url: mount.source.storageURL, caches: caches)
        case .bossdb:
            let parts = mount.source.storageURL.split(separator: "/").map(String.init)
            return try await BossVolume.open(
                api: setting(mount.api, "BOSSDB_API_URL", "https://api.bossdb.io"), collection: parts[0], experiment: parts[1],
                channel: parts[2], token: setting(mount.token, "BOSSDB_TOKEN", "public"), caches: caches)
        case .hdf5grid:
            guard let layout = mount.grid else { throw OpenError(description: "mounts.\(mount.path): no grid layout") }
            let tree = try fileTree(mount.source.storageURL, environment: environment, disk: blocks.disk)
            return try await HDF5GridSource.open(mount, layout: layout, tree: tree, caches: caches, blocks: blocks)
        case .files:
            throw OpenError(description: "mounts.\(mount.path): a file tree is not a volume")
        }
    }

    /// The tree at `url`, with the disk cache (when given) remembering listings and versions
    /// for offline use.
    static func fileTree(_ url: String, environment: [String: String], disk: DiskCache?) throws -> any FileTree {
        let remote = try TreeLocation.tree(for: url, environment: environment)
        return disk.map { OfflineFallbackTree(remote, disk: $0) } ?? remote
    }

    /// What a file-tree URL names: one file (its directory's tree, its name and version), or
    /// a directory. Object stores have no directories, so there a name that is no object is
    /// taken as a prefix.
    enum TreeRoot {
        case file(tree: any FileTree, name: String, version: ObjectVersion)
        case directory(any FileTree)
    }

    /// Resolves a file-tree mount.
    static func treeRoot(_ mount: MountConfig.Mount, environment: [String: String], disk: DiskCache?) async throws -> TreeRoot {
        func tree(_ url: String) throws -> any FileTree { try fileTree(url, environment: environment, disk: disk) }
        let url = mount.source.storageURL
        if let (directory, name) = TreeLocation.fileName(in: url) {
            let parent = try tree(directory)
            if let version = try await parent.version(of: name) { return .file(tree: parent, name: name, version: version) }
            guard TreeLocation.mayBePrefix(url) else { throw ListingError("no file at \(url) (404)") }
        }
        return .directory(try tree(url))
    }

    /// The root directory of a tree, or the one file its URL names.
    private static func openTree(
        _ mount: MountConfig.Mount, environment: [String: String], caches: FileBlockCaches
    ) async throws -> VirtualNode {
        switch try await treeRoot(mount, environment: environment, disk: caches.disk) {
        case let .file(tree, name, version):
            return .file(RemoteFile(tree: tree, path: name, version: version, blockSize: mount.blockSize,
                                    readahead: mount.readahead, caches: caches))
        case let .directory(tree):
            let root = RemoteDirectory(context: RemoteDirectory.Context(
                tree: tree, blockSize: mount.blockSize, readahead: mount.readahead, caches: caches))
            try await root.prepare(for: nil)
            return .directory(root)
        }
    }

    /// Builds the directories above the layers from their paths; `hidden` goes in the root.
    static func assemble(_ layers: [(String, VirtualNode)], hidden: [(String, VirtualNode)] = []) -> VirtualNode {
        final class Builder {
            var children: [(String, Builder)] = []
            var node: VirtualNode?

            func descend(_ name: String) -> Builder {
                if let existing = children.first(where: { $0.0 == name }) { return existing.1 }
                let child = Builder()
                children.append((name, child))
                return child
            }

            func build(hidden: [(String, VirtualNode)] = []) -> VirtualNode {
                node ?? .directory(FixedDirectory(children.map { ($0.0, $0.1.build()) }, hidden: hidden))
            }
        }
        let root = Builder()
        for (path, node) in layers.sorted(by: { $0.0 < $1.0 }) {
            var at = root
            for part in path.split(separator: "/") { at = at.descend(String(part)) }
            at.node = node
        }
        return root.build(hidden: hidden)
    }
}
