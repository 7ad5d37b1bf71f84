import VoxCache
import VoxSources
import VoxTransport
import VoxViews

/// Memory the whole mount shares, sized from one budget.
public struct MemoryBudget: Sendable {
    public let chunks: MemoryCache<DecodedChunk>
    /// Shard and minishard indexes.
    public let metadata: MemoryCache<[UInt8]>
    public let pngBands: MemoryCache<[UInt8]>
    public let inFlight: ByteLimiter
    /// Bytes of decoded chunks that may wait to be written to the disk cache.
    public let diskWriteBuffer: Int

    /// Headroom that is not the caches': the runtime and libraries, and the reply buffers of
    /// concurrent reads (a few MiB each).
    public static let fixedOverhead = 80 << 20

    /// Of what the overhead leaves: half for cached decoded chunks, a quarter for chunks being
    /// fetched and copied, a sixteenth each for rendered PNG bands and for chunks waiting to be
    /// written to disk, a thirty-second for shard indexes, and the rest for allocator slack.
    public init(bytes: Int = 512 << 20) {
        let usable = max(bytes - Self.fixedOverhead, 16 << 20)
        chunks = MemoryCache(capacity: usable / 2)
        inFlight = ByteLimiter(capacity: usable / 4)
        pngBands = MemoryCache(capacity: usable / 16)
        metadata = MemoryCache(capacity: usable / 32)
        diskWriteBuffer = usable / 16
    }

    func sourceCaches(disk: DiskCache?) -> SourceCaches {
        SourceCaches(chunks: chunks, metadata: metadata, disk: disk, inFlight: inFlight)
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
            let store = try mount.source.store(environment: environment)
            switch mount.source.format {
            case .precomputed:
                let volume = try await PrecomputedVolume.open(
                    store: store, caches: memory.sourceCaches(disk: disk), fillMissing: mount.fillMissing)
                return .directory(ImageLayerDirectory(
                    path: mount.path, volume: volume, infoJSON: volume.info.rawJSON, bandCache: memory.pngBands))
            }
        } catch {
            throw OpenError(description: "mounts.\(mount.path): \(error)")
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
