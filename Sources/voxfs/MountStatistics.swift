import Foundation
import VoxCache
import VoxFUSE
import VoxNamespace
import VoxTransport

/// The live counters of one mount, as `/.voxfs/stats.json` shows them.
struct MountStatistics: Encodable {
    struct Memory: Encodable {
        var hits, misses, evictions, bytes, capacity: Int
    }

    struct Disk: Encodable {
        var directory: String
        var capacity: Int
        var counters: DiskCacheCounters.Snapshot
    }

    var memory: Memory
    var disk: Disk?
    var network: TransportCounters.Snapshot
    var served: ServedCounters.Snapshot

    static func json(memory budget: MemoryBudget, disk: DiskCache?, served: ServedCounters) -> [UInt8] {
        let chunks = budget.chunks.statistics
        let statistics = MountStatistics(
            memory: Memory(hits: chunks.hits, misses: chunks.misses, evictions: chunks.evictions,
                           bytes: budget.chunks.totalCost, capacity: budget.chunks.capacity),
            disk: disk.map { Disk(directory: $0.directory, capacity: $0.capacity, counters: $0.counters.snapshot()) },
            network: TransportCounters.shared.snapshot(),
            served: served.snapshot())
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array((try? encoder.encode(statistics)) ?? Data("{}".utf8)) + [0x0A]
    }
}
