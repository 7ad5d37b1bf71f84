import VoxCache
import VoxSources
import VoxTransport
import VoxViews

/// Memory the whole mount shares, sized from one budget.
public struct MemoryBudget: Sendable {
    public let chunks: MemoryCache<DecodedChunk>
    public let pngBands: MemoryCache<[UInt8]>
    public let inFlight: ByteLimiter

    /// Headroom that is not the caches': the runtime and libraries, and the reply buffers of
    /// concurrent reads (a few MiB each).
    public static let fixedOverhead = 80 << 20

    /// Of what the overhead leaves: half for cached decoded chunks, a quarter for chunks being
    /// fetched and copied, a sixteenth for rendered PNG bands, and the rest for allocator slack.
    public init(bytes: Int = 512 << 20) {
        let usable = max(bytes - Self.fixedOverhead, 16 << 20)
        chunks = MemoryCache(capacity: usable / 2)
        inFlight = ByteLimiter(capacity: usable / 4)
        pngBands = MemoryCache(capacity: usable / 16)
    }
}

/// The virtual tree for a config: every source opened and checked before anything is mounted.
public enum MountedTree {
    /// A mount that could not be opened, naming the config key and what went wrong.
    public struct OpenError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func build(
        config: MountConfig, environment: [String: String], memory: MemoryBudget
    ) async throws(OpenError) -> VirtualNode {
        let layers: [(String, VirtualNode)]
        do {
            layers = try await withThrowingTaskGroup(of: (String, VirtualNode).self) { group in
                for mount in config.mounts {
                    group.addTask { (mount.path, try await open(mount, environment: environment, memory: memory)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        } catch let error as OpenError {
            throw error
        } catch {
            throw OpenError(description: "\(error)")
        }
        return assemble(layers)
    }

    private static func open(_ mount: MountConfig.Mount, environment: [String: String], memory: MemoryBudget) async throws(OpenError) -> VirtualNode {
        do {
            let store = try mount.source.store(environment: environment)
            switch mount.source.format {
            case .precomputed:
                let volume = try await PrecomputedVolume.open(store: store, cache: memory.chunks, inFlight: memory.inFlight, fillMissing: mount.fillMissing)
                return .directory(ImageLayerDirectory(
                    path: mount.path, volume: volume, infoJSON: volume.info.rawJSON, bandCache: memory.pngBands))
            }
        } catch {
            throw OpenError(description: "mounts.\(mount.path): \(error)")
        }
    }

    /// Builds the directories above the layers from their paths.
    static func assemble(_ layers: [(String, VirtualNode)]) -> VirtualNode {
        final class Builder {
            var children: [(String, Builder)] = []
            var node: VirtualNode?

            func descend(_ name: String) -> Builder {
                if let existing = children.first(where: { $0.0 == name }) { return existing.1 }
                let child = Builder()
                children.append((name, child))
                return child
            }

            func build() -> VirtualNode {
                node ?? .directory(FixedDirectory(children.map { ($0.0, $0.1.build()) }))
            }
        }
        let root = Builder()
        for (path, node) in layers.sorted(by: { $0.0 < $1.0 }) {
            var at = root
            for part in path.split(separator: "/") { at = at.descend(String(part)) }
            at.node = node
        }
        return root.build()
    }
}
