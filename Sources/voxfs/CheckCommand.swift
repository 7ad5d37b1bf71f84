import ArgumentParser
import Foundation
import VoxNamespace

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a config; with --online, also fetch each source's metadata and describe it.")

    @Argument(help: "YAML config to check.")
    var config: String

    @Flag(help: "Fetch each source's metadata (precomputed info, or a tree's root listing) and print a table.")
    var online = false

    func run() throws {
        let path = Mountpoint.absolute(config)
        let parsed: MountConfig
        do { parsed = try MountConfig.load(path: config) } catch { fail(error.description) }
        guard online else {
            print("\(config): OK, \(parsed.mounts.count) mount\(parsed.mounts.count == 1 ? "" : "s")")
            return
        }
        let environment = ProcessInfo.processInfo.environment
        let results = runBlockingResults(parsed.mounts) { try await SourceProbe.probe($0, environment: environment) }
        var rows = [["path", "kind", "scales", "data type", "size (voxels)", "chunk", "encoding"]]
        var failures: [String] = []
        for (mount, result) in zip(parsed.mounts, results) {
            switch result {
            case let .success(probe):
                let scales = switch probe.scales.count {
                case 0: "-"
                case 1: "1: \(probe.scales[0])"
                default: "\(probe.scales.count): \(probe.scales.first!)…\(probe.scales.last!)"
                }
                rows.append([probe.path, probe.kind, scales, probe.dataType, probe.size, probe.chunkSize, probe.encoding])
            case let .failure(error):
                rows.append([mount.path, "FAILED", "-", "-", "-", "-", "-"])
                let line = mount.line.map { ":\($0)" } ?? ""
                failures.append("\(path)\(line): mounts.\(mount.path): \(error)")
            }
        }
        print(Table.render(rows))
        for failure in failures { FileHandleOutput.standardError("voxfs: \(failure)") }
        if !failures.isEmpty { throw ExitCode(1) }
    }
}

/// Runs one async job per item concurrently, collecting each result in order.
func runBlockingResults<Item: Sendable, Value: Sendable>(
    _ items: [Item], _ job: @escaping @Sendable (Item) async throws -> Value
) -> [Result<Value, any Error>] {
    (try? runBlocking {
        await withTaskGroup(of: (Int, Result<Value, any Error>).self) { group in
            for (index, item) in items.enumerated() {
                group.addTask {
                    do { return (index, .success(try await job(item))) } catch { return (index, .failure(error)) }
                }
            }
            var results = [Result<Value, any Error>?](repeating: nil, count: items.count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }) ?? []
}

/// Left-aligned columns separated by two spaces.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        let widths = rows.reduce(into: [Int]()) { widths, row in
            for (index, cell) in row.enumerated() {
                if index == widths.count { widths.append(0) }
                widths[index] = max(widths[index], cell.count)
            }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
