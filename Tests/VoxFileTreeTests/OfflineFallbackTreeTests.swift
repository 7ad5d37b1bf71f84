import Foundation
import Synchronization
import Testing
import VoxCache
import VoxTransport
@testable import VoxFileTree

@Suite struct OfflineFallbackTreeTests {
    /// A tree whose server can be switched off (connection refused) or made to answer 404.
    final class SwitchableTree: FileTree {
        enum Mode { case up, down, notFound }
        let inner = MemoryTree(["d/a.csv": Array("x\n".utf8)])
        let mode = Mutex(Mode.up)
        var location: String { inner.location }
        func describe(_ path: String) -> String { inner.describe(path) }

        private func check(_ path: String) throws {
            switch mode.withLock({ $0 }) {
            case .up: return
            case .down: throw StoreError.exhausted(.transport("Couldn't connect to server", url: describe(path)), attempts: 4)
            case .notFound: throw StoreError.httpStatus(404, url: describe(path))
            }
        }

        func list(_ path: String) async throws -> Listing { try check(path); return try await inner.list(path) }
        func version(of path: String) async throws -> ObjectVersion? { try check(path); return try await inner.version(of: path) }
        func read(_ path: String, range: Range<Int>, version: ObjectVersion) async throws -> [UInt8] {
            try check(path); return try await inner.read(path, range: range, version: version)
        }
    }

    @Test func listingsAndVersionsSurviveTheServerGoingAway() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxfs-offline-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try DiskCache(directory: directory, capacity: 1 << 20, minimumFreeBytes: 0)
        let remote = SwitchableTree()
        let tree = OfflineFallbackTree(remote, disk: disk)
        let listing = try await tree.list("d")
        let version = try await tree.version(of: "d/a.csv")
        disk.flush()

        remote.mode.withLock { $0 = .down }
        #expect(try await tree.list("d") == listing)
        #expect(try await tree.version(of: "d/a.csv") == version)
        await #expect(throws: StoreError.self) { try await tree.list("never-listed") }
        await #expect(throws: StoreError.self) { try await tree.read("d/a.csv", range: 0..<1, version: version!) }

        remote.mode.withLock { $0 = .notFound }  // the server's answer wins over the cache
        await #expect(throws: StoreError.self) { try await tree.list("d") }
    }
}
