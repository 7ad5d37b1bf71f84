import Foundation
import Testing
import VoxTestSupport
@testable import VoxTransport

@Suite struct FileStoreTests {
    let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("voxfs-filestore-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url.appendingPathComponent("s"), withIntermediateDirectories: true)
        return url
    }()

    static let text = Array("hello voxfs hello voxfs hello voxfs hello voxfs hello voxfs ".utf8)
    /// `gzip.compress(b"hello voxfs " * 5)` from Python.
    static let gzipped: [UInt8] = hex("1f8b08003754036b02ffcb48cdc9c95728cbaf482b56c820910d001ea082313c000000")
    /// `zlib.compress(b"hello voxfs " * 5)` from Python.
    static let zlibbed: [UInt8] = hex("789ccb48cdc9c95728cbaf482b56c820910d00ba0c16b3")

    @Test func readsWholeRangeAndMissing() async throws {
        try Data([1, 2, 3, 4, 5]).write(to: directory.appendingPathComponent("s/a"))
        let store = FileStore(root: directory.path)
        #expect(try await store.fetch("s/a")?.bytes == [1, 2, 3, 4, 5])
        #expect(try await store.fetch("s/a", range: 1..<3)?.bytes == [2, 3])
        #expect(try await store.fetch("s/missing") == nil)
        await #expect(throws: StoreError.self) { try await store.fetch("s/a", range: 3..<9) }
    }

    @Test func gzFallbackIsInflated() async throws {
        try Data(Self.gzipped).write(to: directory.appendingPathComponent("s/b.gz"))
        let store = FileStore(root: directory.path)
        #expect(try await store.fetch("s/b")?.bytes == Self.text)
        #expect(try await store.fetch("s/b", range: 6..<11)?.bytes == Array("voxfs".utf8))
    }

    @Test func corruptGzipIsAnErrorNotData() async throws {
        try Data(Self.gzipped.prefix(20)).write(to: directory.appendingPathComponent("s/c.gz"))
        await #expect(throws: StoreError.self) { try await FileStore(root: directory.path).fetch("s/c") }
    }

    @Test func inflateAcceptsZlibAndGzip() throws {
        #expect(try Gzip.inflate(Self.zlibbed) == Self.text)
        #expect(try Gzip.inflate(Self.gzipped) == Self.text)
        #expect(throws: GzipError.self) { try Gzip.inflate([0x1F, 0x8B, 0x08, 0x00]) }
    }
}
