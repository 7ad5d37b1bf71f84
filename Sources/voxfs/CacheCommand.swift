import ArgumentParser
import Foundation
import VoxCache

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "Inspect or empty the disk cache.",
        subcommands: [Stats.self, Clear.self])

    struct Location: ParsableArguments {
        @Option(name: .customLong("cache-dir"), help: "Cache directory (default $XDG_CACHE_HOME/voxfs or ~/.cache/voxfs).")
        var directory: String?

        func open() throws -> DiskCache {
            let path = CacheLocation.expand(directory ?? CacheLocation.defaultDirectory())
            guard FileManager.default.fileExists(atPath: path + "/index.sqlite") else {
                throw UserFacingError("no voxfs cache at \(path)")
            }
            // The bound does not matter here: nothing is written.
            return try CacheLocation.open(directory: path, size: Int.max)
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print size, entries, and lifetime hit/miss/byte counters.")
        @OptionGroup var location: Location

        func run() throws {
            do {
                let cache = try location.open()
                let usage = try cache.usage()
                let totals = try cache.lifetimeCounters()
                print("directory      \(cache.directory)")
                print("size           \(ByteCount.human(usage.bytes)) (\(usage.bytes) bytes)")
                print("entries        \(usage.entries)")
                for name in ["hits", "misses", "corrupt", "evictions", "bytes_read", "bytes_written"] {
                    let value = totals[name] ?? 0
                    let shown = name.hasPrefix("bytes") ? "\(ByteCount.human(value)) (\(value) bytes)" : String(value)
                    print(name.padding(toLength: 15, withPad: " ", startingAt: 0) + shown)
                }
            } catch {
                fail("\(error)")
            }
        }
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every cached entry (safe while mounts are running).")
        @OptionGroup var location: Location

        func run() throws {
            do {
                let cache = try location.open()
                try cache.clear()
                print("cleared \(cache.directory)")
            } catch {
                fail("\(error)")
            }
        }
    }
}
