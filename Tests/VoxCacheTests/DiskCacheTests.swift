import Foundation
import Testing
@testable import VoxCache

@Suite struct DiskCacheTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxfs-disk-\(UUID().uuidString)").path

    /// Incompressible bytes, so entry sizes on disk are what the test says.
    func bytes(_ seed: Int, count: Int = 10_000) -> [UInt8] {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        var out = [UInt8](repeating: 0, count: count)
        for index in out.indices {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            out[index] = UInt8(truncatingIfNeeded: state)
        }
        return out
    }

    /// Sum of the sizes of the regular files under the directory, in 4 KiB blocks like du.
    func diskUsage() -> Int {
        let enumerator = FileManager.default.enumerator(atPath: directory)!
        var total = 0
        while let name = enumerator.nextObject() as? String {
            var info = stat()
            if stat(directory + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
                total += Int(info.st_blocks) * 512
            }
        }
        return total
    }

    func entryFiles() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory + "/objects")!
        return enumerator.compactMap { $0 as? String }.filter { $0.contains("/") }.map { directory + "/objects/" + $0 }
    }

    @Test func roundTripsAndPersistsAcrossInstances() async throws {
        let cache = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        await cache.store("a", .bytes(bytes(1)))
        await cache.store("missing", .missing)
        cache.flush()
        #expect(cache.read("a") == .bytes(bytes(1)))
        #expect(cache.read("missing") == .missing)
        #expect(cache.read("b") == nil)
        let reopened = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        #expect(reopened.read("a") == .bytes(bytes(1)))
        #expect(reopened.counters.snapshot().hits == 1)
        #expect(try reopened.usage().entries == 2)
    }

    @Test func writesMakeAgainAShardDirectoryRemovedBehindTheirBack() async throws {
        let cache = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        let objects = directory + "/objects"
        #expect(try FileManager.default.contentsOfDirectory(atPath: objects).count == 256)
        for name in try FileManager.default.contentsOfDirectory(atPath: objects) {
            try FileManager.default.removeItem(atPath: objects + "/" + name)
        }
        await cache.store("a", .bytes(bytes(1)))
        cache.flush()
        #expect(cache.read("a") == .bytes(bytes(1)))
    }

    @Test func corruptEntriesAreDroppedNeverServed() async throws {
        let cache = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        await cache.store("a", .bytes(bytes(1)))
        cache.flush()
        let file = try #require(entryFiles().first)
        var stored = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        stored[stored.count - 3] ^= 0x40
        try Data(stored).write(to: URL(fileURLWithPath: file))
        #expect(cache.read("a") == nil)
        #expect(cache.counters.snapshot().corrupt == 1)
        cache.flush()
        #expect(try cache.usage().entries == 0)
        #expect(entryFiles().isEmpty)
    }

    @Test func anEntryForAnotherKeyIsCorrupt() async throws {
        let cache = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        await cache.store("a", .bytes(bytes(1)))
        await cache.store("b", .bytes(bytes(2)))
        cache.flush()
        let files = entryFiles().sorted()
        let first = try Data(contentsOf: URL(fileURLWithPath: files[0]))
        try Data(contentsOf: URL(fileURLWithPath: files[1])).write(to: URL(fileURLWithPath: files[0]))
        _ = first
        #expect(cache.read("a") == nil)
        #expect(cache.read("b") == .bytes(bytes(2)))
        #expect(cache.counters.snapshot().corrupt == 1)
    }

    @Test func staysWithinTheBoundWithTwoWritersOnOneDirectory() async throws {
        let capacity = 4 << 20, entry = 100_000
        let one = try DiskCache(directory: directory, capacity: capacity, minimumFreeBytes: 0)
        let two = try DiskCache(directory: directory, capacity: capacity, minimumFreeBytes: 0)
        for i in 0..<100 {
            await (i % 2 == 0 ? one : two).store("k\(i)", .bytes(bytes(i, count: entry + i)))
            if i % 10 == 9 {
                one.flush(); two.flush()
                #expect(diskUsage() <= capacity + entry + 4096, "after \(i + 1) writes")
            }
        }
        one.flush(); two.flush()
        #expect(one.counters.snapshot().evictions + two.counters.snapshot().evictions > 0)
        // The most recent entries survive, the oldest are gone.
        #expect(one.read("k98") != nil && two.read("k99") != nil)
        #expect(one.read("k0") == nil)
    }

    @Test func leastRecentlyReadIsEvictedFirst() async throws {
        // About six entries fit: the bound also holds the index and room for its log (512 KiB).
        let cache = try DiskCache(directory: directory, capacity: (2 << 20) + (512 << 10), minimumFreeBytes: 0)
        for i in 0..<4 { await cache.store("k\(i)", .bytes(bytes(i, count: 300_000))); cache.flush(); usleep(2_000) }
        _ = cache.read("k0")  // k0 becomes the most recent
        cache.flush()
        for i in 4..<8 { await cache.store("k\(i)", .bytes(bytes(i, count: 300_000))); cache.flush(); usleep(2_000) }
        #expect(cache.read("k0") != nil)
        #expect(cache.read("k1") == nil)
    }

    @Test func lowDiskSpaceSkipsCachingButNeverFails() async throws {
        let cache = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: Int.max / 2)
        await cache.store("a", .bytes(bytes(1)))
        cache.flush()
        #expect(cache.read("a") == nil)
        #expect(cache.counters.snapshot().skippedLowSpace == 1)
    }

    @Test func storeIfIdleDropsWhatTheWriteBufferCannotHold() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = try DiskCache(directory: directory, capacity: 1 << 20, minimumFreeBytes: 0, writeBufferBytes: 25_000)
        for index in 0..<20 { cache.storeIfIdle("k\(index)", .bytes(bytes(index))) }  // never waits
        #expect(cache.writesInProgress + cache.counters.snapshot().writes + cache.counters.snapshot().skippedBusy >= 20)
        cache.flush()
        #expect(cache.writesInProgress == 0)
        let counters = cache.counters.snapshot()
        #expect(counters.skippedBusy > 0)
        #expect(counters.writes + counters.skippedBusy == 20)
        #expect(cache.read("k0") == .bytes(bytes(0)))  // the first fit in the buffer
    }

    @Test func clearEmptiesEverything() async throws {
        let cache = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        for i in 0..<5 { await cache.store("k\(i)", .bytes(bytes(i))) }
        cache.flush()
        try cache.clear()
        #expect(try cache.usage().entries == 0)
        #expect(entryFiles().isEmpty)
        #expect(cache.read("k1") == nil)
    }

    @Test func entryCodecRejectsTruncation() async throws {
        let encoded = DiskEntryCodec.encode(key: "k", entry: .bytes(bytes(3)))
        #expect(try DiskEntryCodec.decode(encoded, expectedKey: "k") == .bytes(bytes(3)))
        #expect(throws: DiskEntryCodec.Corrupt.self) { try DiskEntryCodec.decode(Array(encoded.dropLast()), expectedKey: "k") }
        #expect(throws: DiskEntryCodec.Corrupt.self) { try DiskEntryCodec.decode(encoded, expectedKey: "other") }
        let zeros = [UInt8](repeating: 0, count: 100_000)
        #expect(DiskEntryCodec.encode(key: "z", entry: .bytes(zeros)).count < 1_000)  // zstd does compress
    }
}

@Suite struct DiskCacheLifetimeCounterTests {
    @Test func countersAddUpAcrossProcessesAndRuns() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxfs-disk-\(UUID().uuidString)").path
        do {
            let cache = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
            await cache.store("a", .bytes([1, 2, 3]))
            cache.flush()
            _ = cache.read("a"); _ = cache.read("a"); _ = cache.read("nope")
            cache.flush()
        }
        let again = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        _ = again.read("a")
        let totals = try again.lifetimeCounters()
        #expect(totals["hits"] == 3)
        #expect(totals["misses"] == 1)
        #expect((totals["bytes_written"] ?? 0) > 0)
    }
}

@Suite struct DiskEntryCorruptionTests {
    /// A single-byte change anywhere in a stored entry, compressed or stored as is, is caught:
    /// never decoded to different bytes, and never into a huge allocation from a damaged length.
    @Test(arguments: [false, true])
    func noFlippedByteDecodesToDifferentData(compressible: Bool) {
        var state: UInt32 = 12345
        let original: [UInt8] = (0..<3000).map { i in
            state = state &* 1_103_515_245 &+ 12345
            return compressible ? UInt8(truncatingIfNeeded: i &* 7 ^ i >> 3) : UInt8(truncatingIfNeeded: state >> 16)
        }
        let encoded = DiskEntryCodec.encode(key: "chunk|k", entry: .bytes(original))
        #expect((encoded[4] & DiskEntryCodec.uncompressedFlag != 0) == !compressible)
        for index in encoded.indices {
            var damaged = encoded
            damaged[index] ^= 0x10
            let decoded = try? DiskEntryCodec.decode(damaged, expectedKey: "chunk|k")
            #expect(decoded == nil || decoded == .bytes(original), "a flip of byte \(index) decoded to other data")
        }
    }
}

@Suite struct DiskCacheCrashRecoveryTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxfs-disk-\(UUID().uuidString)").path

    /// The pid of a process that has exited.
    func deadPid() throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return Int(process.processIdentifier)
    }

    @Test func aReservationOfADeadWriterIsTakenOver() async throws {
        let cache = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        cache.flush()
        let database = try SQLiteDatabase(path: directory + "/index.sqlite")
        try database.query("INSERT INTO entries (key, size, last_access, ready, owner) VALUES ('k', 4096, 0, 0, ?)", [.integer(try deadPid())])
        await cache.store("k", .bytes([1, 2, 3]))
        cache.flush()
        #expect(cache.read("k") == .bytes([1, 2, 3]))
    }

    @Test func aReservationOfALiveWriterIsLeftAlone() async throws {
        let cache = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        cache.flush()
        let database = try SQLiteDatabase(path: directory + "/index.sqlite")
        try database.query("INSERT INTO entries (key, size, last_access, ready, owner) VALUES ('k', 4096, 0, 0, 1)")  // pid 1 lives
        await cache.store("k", .bytes([1, 2, 3]))
        cache.flush()
        #expect(cache.read("k") == nil)
    }

    @Test func startupRemovesWhatDeadWritersLeft() throws {
        let first = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        first.flush()
        let dead = try deadPid()
        let stray = directory + "/objects/tmp.\(dead).7"
        let live = directory + "/objects/tmp.\(getpid()).8"
        #expect(FileManager.default.createFile(atPath: stray, contents: Data([1, 2, 3])))
        #expect(FileManager.default.createFile(atPath: live, contents: Data([4])))
        let database = try SQLiteDatabase(path: directory + "/index.sqlite")
        try database.query("INSERT INTO entries (key, size, last_access, ready, owner) VALUES ('k', 4096, 0, 0, ?)", [.integer(dead)])
        let second = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        second.flush()  // waits for the startup cleanup, which runs on the writer queue
        #expect(!FileManager.default.fileExists(atPath: stray))
        #expect(FileManager.default.fileExists(atPath: live))
        #expect(try database.query("SELECT COUNT(*) FROM entries")[0][0].integer == 0)
    }
}
