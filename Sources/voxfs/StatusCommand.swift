import ArgumentParser
import Foundation
import VoxFUSE

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List live voxfs mounts with their config, cache use, hit rates, traffic and errors.")

    @Argument(help: "Only this mount point.")
    var mountpoint: String?

    func run() throws {
        var mounts = MountTable.current().voxfsMounts
        if let mountpoint {
            let wanted = Mountpoint.absolute(mountpoint)
            mounts = mounts.filter { $0.mountpoint == wanted }
            if mounts.isEmpty { fail("\(wanted) is not a voxfs mount") }
        }
        if mounts.isEmpty {
            print("no voxfs mounts")
            return
        }
        for (index, mount) in mounts.enumerated() {
            if index > 0 { print("") }
            let path = mount.mountpoint + "/.voxfs/stats.json"
            guard let data = FileManager.default.contents(atPath: path), let stats = try? MountStatistics.decode(data) else {
                print("\(mount.mountpoint)\n  status      unreadable (\(path)); the daemon may be hung or from another version")
                continue
            }
            print(Self.describe(stats, at: mount.mountpoint))
        }
    }

    static func describe(_ stats: MountStatistics, at mountpoint: String) -> String {
        func rate(_ hits: Int, _ misses: Int) -> String {
            hits + misses == 0 ? "-" : String(Int((Double(hits) * 100 / Double(hits + misses)).rounded())) + "%"
        }
        let network = stats.network
        var lines = [
            "\(mountpoint)  (pid \(stats.mount.pid))",
            "  config      \(stats.mount.config)",
            "  mounts      \(stats.mount.mounts.joined(separator: ", "))",
        ]
        if let disk = stats.disk {
            let used = disk.usedBytes.map(ByteCount.human) ?? "?"
            lines.append("  cache       \(used) of \(ByteCount.human(disk.capacity)) in \(disk.directory)")
        }
        var hits = "  hit rate    chunks \(rate(stats.memory.hits, stats.memory.misses)) in memory"
        hits += ", file blocks \(rate(stats.fileBlocks.hits, stats.fileBlocks.misses)) in memory"
        if let disk = stats.disk { hits += ", \(rate(disk.counters.hits, disk.counters.misses)) on disk" }
        lines.append(hits)
        lines.append("  fetched     \(ByteCount.human(network.bytesFetched)) in \(network.requests) requests"
                     + ", \(network.inFlight) in flight, \(network.retries) retries")
        lines.append("  errors      \(network.errors) network, \(stats.served.errors) reads answered EIO")
        lines.append("  served      \(ByteCount.human(stats.served.bytes)) in \(stats.served.reads) reads")
        return lines.joined(separator: "\n")
    }
}
