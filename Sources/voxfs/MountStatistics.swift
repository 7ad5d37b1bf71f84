import Foundation
import VoxCache
import VoxFUSE
import VoxNamespace
import VoxTransport

/// The live counters of one mount, as `/.voxfs/stats.json` shows them and `voxfs status` reads them.
struct MountStatistics: Codable {
    struct Memory: Codable {
        var hits, misses, evictions, bytes, capacity: Int
    }

    struct Disk: Codable {
        var directory: String
        var capacity: Int
        /// Bytes the cache holds now, from its index.
        var usedBytes: Int?
        /// Entries queued for writing; absent from daemons older than this field.
        var writesInProgress: Int?
        var counters: DiskCacheCounters.Snapshot
    }

    /// What is mounted: the config file, the paths it mounts, and the daemon.
    struct Identity: Codable, Sendable {
        var config: String
        var mounts: [String]
        var pid: Int
    }

    var mount: Identity
    /// Decoded chunks of volumes.
    var memory: Memory
    /// Blocks of files of file trees.
    var fileBlocks: Memory
    var disk: Disk?
    var network: TransportCounters.Snapshot
    var served: ServedCounters.Snapshot

    static func json(identity: Identity, memory budget: MemoryBudget, disk: DiskCache?, served: ServedCounters) -> [UInt8] {
        func memory<Value>(_ cache: MemoryCache<Value>) -> Memory {
            let counts = cache.statistics
            return Memory(hits: counts.hits, misses: counts.misses, evictions: counts.evictions, bytes: cache.totalCost, capacity: cache.capacity)
        }
        let statistics = MountStatistics(
            mount: identity, memory: memory(budget.chunks), fileBlocks: memory(budget.fileBlocks),
            disk: disk.map {
                Disk(directory: $0.directory, capacity: $0.capacity, usedBytes: try? $0.usage().bytes, writesInProgress: $0.writesInProgress, counters: $0.counters.snapshot())
            },
            network: TransportCounters.shared.snapshot(),
            served: served.snapshot())
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array((try? encoder.encode(statistics)) ?? Data("{}".utf8)) + [0x0A]
    }

    static func decode(_ data: Data) throws -> MountStatistics {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(MountStatistics.self, from: data)
    }
}
