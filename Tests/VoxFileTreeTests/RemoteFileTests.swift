import Foundation
import Testing
import VoxCache
import VoxTransport
@testable import VoxFileTree

@Suite struct RemoteFileTests {
    static let bytes = (0..<(10 * 4096 + 123)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }

    static func file(_ tree: MemoryTree, caches: FileBlockCaches = .inMemory(), readahead: Int = 0) async throws -> RemoteFile {
        let version = try #require(try await tree.version(of: "d/f.bin"))
        return RemoteFile(tree: tree, path: "d/f.bin", version: version, blockSize: 4096, readahead: readahead, caches: caches)
    }

    @Test func readsAnyRangeExactly() async throws {
        let tree = MemoryTree(["d/f.bin": Self.bytes])
        let file = try await Self.file(tree)
        for (offset, count) in [(0, 1), (4095, 2), (100, 3 * 4096), (Self.bytes.count - 5, 100), (Self.bytes.count, 10), (0, Self.bytes.count)] {
            let expected = Array(Self.bytes[min(offset, Self.bytes.count)..<min(offset + count, Self.bytes.count)])
            #expect(try await file.read(offset: offset, count: count) == expected)
        }
    }

    @Test func aSmallRandomReadFetchesOneBlock() async throws {
        let tree = MemoryTree(["d/f.bin": Self.bytes])
        let file = try await Self.file(tree, readahead: 1 << 20)
        _ = try await file.read(offset: 5 * 4096 + 100, count: 4096 - 200)
        #expect(tree.readRanges == [(5 * 4096)..<(6 * 4096)])
        #expect(file.readIfCached(offset: 5 * 4096, count: 10) == Array(Self.bytes[(5 * 4096)..<(5 * 4096 + 10)]))
        #expect(file.readIfCached(offset: 0, count: 10) == nil)
    }

    static func pagedFile(_ tree: MemoryTree, caches: FileBlockCaches = .inMemory()) async throws -> RemoteFile {
        let version = try #require(try await tree.version(of: "d/f.bin"))
        return RemoteFile(tree: tree, path: "d/f.bin", version: version, blockSize: 4 * 4096, readahead: 1 << 20,
                          pageSize: 4096, caches: caches)
    }

    @Test func anIsolatedSmallReadFetchesOnlyItsPages() async throws {
        let tree = MemoryTree(["d/f.bin": Self.bytes])
        let file = try await Self.pagedFile(tree)
        #expect(try await file.read(offset: 5 * 4096 + 100, count: 200) == Array(Self.bytes[(5 * 4096 + 100)..<(5 * 4096 + 300)]))
        #expect(tree.readRanges == [(5 * 4096)..<(6 * 4096)])
        #expect(file.readIfCached(offset: 5 * 4096, count: 10) == Array(Self.bytes[(5 * 4096)..<(5 * 4096 + 10)]))
        // Across a page boundary (and far enough from the first read not to continue it).
        #expect(try await file.read(offset: 4096 - 10, count: 20) == Array(Self.bytes[(4096 - 10)..<(4096 + 10)]))
        #expect(Set(tree.readRanges) == [(5 * 4096)..<(6 * 4096), 0..<4096, 4096..<(2 * 4096)])
        // The short last page.
        #expect(try await file.read(offset: Self.bytes.count - 3, count: 10) == Array(Self.bytes.suffix(3)))
        #expect(tree.readRanges.last == (10 * 4096)..<Self.bytes.count)
    }

    @Test func anIsolatedReadUsesACachedBlock() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxfs-remotefile-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try DiskCache(directory: directory, capacity: 1 << 20, minimumFreeBytes: 0)
        func caches() -> FileBlockCaches {
            FileBlockCaches(memory: MemoryCache(capacity: 1 << 20), disk: disk, inFlight: ByteLimiter(capacity: 1 << 20))
        }
        let tree = MemoryTree(["d/f.bin": Self.bytes])
        let first = try await Self.pagedFile(tree, caches: caches())
        _ = try await first.read(offset: 0, count: Self.bytes.count)
        disk.flush()
        let fetched = tree.readRanges.count
        // From the disk, as a new mount would find it.
        let second = try await Self.pagedFile(tree, caches: caches())
        #expect(try await second.read(offset: 9 * 4096 + 1, count: 100) == Array(Self.bytes[(9 * 4096 + 1)..<(9 * 4096 + 101)]))
        // And from memory once a block is loaded.
        #expect(try await first.read(offset: 4096, count: 100) == Array(Self.bytes[4096..<(4096 + 100)]))
        #expect(tree.readRanges.count == fetched)
    }

    @Test func sequentialReadersGetWholeBlocks() async throws {
        let tree = MemoryTree(["d/f.bin": Self.bytes])
        let file = try await Self.pagedFile(tree)
        for offset in stride(from: 0, to: 3 * 4096, by: 4096) { _ = try await file.read(offset: offset, count: 4096) }
        try await waitUntil { tree.readRanges.contains((4 * 4096)..<(8 * 4096)) }
        #expect(tree.readRanges.contains(0..<(4 * 4096)))
        #expect(tree.readRanges.contains((4 * 4096)..<(8 * 4096)))
    }

    @Test func sequentialReadsAreReadAhead() async throws {
        let tree = MemoryTree(["d/f.bin": Self.bytes])
        let file = try await Self.file(tree, readahead: 1 << 20)
        _ = try await file.read(offset: 0, count: 4096)
        _ = try await file.read(offset: 4096, count: 4096)
        // The second read continues the first: the blocks after it are on their way.
        try await waitUntil { tree.readRanges.count >= 3 }
        #expect(Set(tree.readRanges).isSuperset(of: [0..<4096, 4096..<8192, 8192..<12288]))
    }

    @Test func aReplacedFileFailsInsteadOfMixingVersions() async throws {
        let tree = MemoryTree(["d/f.bin": Self.bytes])
        let file = try await Self.file(tree)
        _ = try await file.read(offset: 0, count: 10)
        tree.put("d/f.bin", Self.bytes.reversed())
        await #expect(throws: StoreError.self) { try await file.read(offset: 8 * 4096, count: 10) }
        #expect(try await file.read(offset: 0, count: 10) == Array(Self.bytes[0..<10]))  // still cached: the old version
    }

    @Test func aVersionListedWithoutValidatorsIsPinnedByTheServer() async throws {
        let tree = MemoryTree(["d/f.bin": Self.bytes])
        // As an index page lists it: a size and nothing else.
        let file = RemoteFile(tree: tree, path: "d/f.bin", version: ObjectVersion(size: Self.bytes.count), blockSize: 4096,
                              readahead: 0, caches: .inMemory())
        #expect(file.readIfCached(offset: 0, count: 10) == nil)
        #expect(try await file.read(offset: 0, count: 10) == Array(Self.bytes[0..<10]))
        tree.put("d/f.bin", Self.bytes.reversed())
        await #expect(throws: StoreError.self) { try await file.read(offset: 8 * 4096, count: 10) }
        let resized = RemoteFile(tree: tree, path: "d/f.bin", version: ObjectVersion(size: 5), blockSize: 4096,
                                 readahead: 0, caches: .inMemory())
        await #expect(throws: StoreError.self) { try await resized.read(offset: 0, count: 1) }
    }

    @Test func blocksComeBackFromTheDiskCache() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxfs-remotefile-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try DiskCache(directory: directory, capacity: 1 << 20, minimumFreeBytes: 0)
        let tree = MemoryTree(["d/f.bin": Self.bytes])
        let first = try await Self.file(tree, caches: FileBlockCaches(memory: MemoryCache(capacity: 1 << 20), disk: disk, inFlight: ByteLimiter(capacity: 1 << 20)))
        _ = try await first.read(offset: 0, count: Self.bytes.count)
        let fetched = tree.readRanges.count
        disk.flush()
        let second = try await Self.file(tree, caches: FileBlockCaches(memory: MemoryCache(capacity: 1 << 20), disk: disk, inFlight: ByteLimiter(capacity: 1 << 20)))
        #expect(try await second.read(offset: 0, count: Self.bytes.count) == Self.bytes)
        #expect(tree.readRanges.count == fetched)
    }
}

@Suite struct SequentialReadDetectorTests {
    @Test func windowDoublesUpToTheCap() {
        let detector = SequentialReadDetector(blockSize: 100, maxWindow: 800)
        #expect(detector.advise(offset: 0, count: 100).prefetch.isEmpty)
        var windows: [Int] = []
        for step in 1...6 {
            let advice = detector.advise(offset: step * 100, count: 100)
            #expect(advice.isSequential)
            windows.append(advice.prefetch.upperBound - (step + 1) * 100)
        }
        #expect(windows == [100, 200, 400, 800, 800, 800])
    }

    @Test func aStrayReadDoesNotResetAStream() {
        let detector = SequentialReadDetector(blockSize: 100, maxWindow: 1600)
        for step in 0..<4 { _ = detector.advise(offset: step * 100, count: 100) }
        #expect(!detector.advise(offset: 50_000, count: 10).isSequential)
        let advice = detector.advise(offset: 400, count: 100)
        #expect(advice.isSequential)
        #expect(advice.prefetch.upperBound == 500 + 800)
    }
}

/// Polls `condition` for up to two seconds: prefetches run in their own tasks.
func waitUntil(_ condition: () -> Bool) async throws {
    for _ in 0..<200 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
}
