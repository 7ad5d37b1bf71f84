import Synchronization
import Testing
import VoxCache
import VoxSources
import VoxTransport

@Suite struct PrecomputedVolumeTests {
    @Test(arguments: [
        (1, DataType.uint8), (3, .uint8), (1, .uint16), (2, .float32), (1, .uint64),
    ])
    func planeRowsMatchTheVoxelsAcrossChunkEdges(channels: Int, dataType: DataType) async throws {
        // Size not a multiple of the chunk, non-zero offset: truncated edge chunks on every axis.
        let test = TestVolume(size: Vec3(50, 37, 9), offset: Vec3(3, -5, 100), chunk: Vec3(16, 16, 4), channels: channels, dataType: dataType)
        let volume = try await test.open()
        for z in [100, 103, 104, 108] {
            for rows in [0..<37, 0..<1, 15..<17, 30..<37, 36..<37] {
                let got = try await volume.planeRows(scale: 0, z: z, rows: rows)
                #expect(got == test.expectedRows(z: z, rows: rows), "z \(z) rows \(rows)")
            }
        }
    }

    @Test func outOfBoundsIsAnError() async throws {
        let test = TestVolume(size: Vec3(8, 8, 4), offset: Vec3(0, 0, 10), chunk: Vec3(8, 8, 4))
        let volume = try await test.open()
        await #expect(throws: SourceError.self) { try await volume.planeRows(scale: 0, z: 9, rows: 0..<1) }
        await #expect(throws: SourceError.self) { try await volume.planeRows(scale: 0, z: 14, rows: 0..<1) }
        await #expect(throws: SourceError.self) { try await volume.planeRows(scale: 0, z: 10, rows: 0..<9) }
    }

    @Test func missingChunkReadsAsZerosOnlyWhenFilling() async throws {
        let test = TestVolume(size: Vec3(32, 16, 4), chunk: Vec3(16, 16, 4))
        test.store.remove(UnshardedChunkReader.chunkKey(scale: test.geometry, cell: Vec3(1, 0, 0)))
        let filled = try await test.open().planeRows(scale: 0, z: 2, rows: 0..<16)
        let expected = test.expectedRows(z: 2, rows: 0..<16)
        for y in 0..<16 {
            #expect(filled[(y * 32)..<(y * 32 + 16)] == expected[(y * 32)..<(y * 32 + 16)])
            #expect(filled[(y * 32 + 16)..<(y * 32 + 32)].allSatisfy { $0 == 0 })
        }
        let strict = try await test.open(fillMissing: false)
        await #expect(throws: SourceError.self) { try await strict.planeRows(scale: 0, z: 2, rows: 0..<16) }

        // Two mounts of one URL share the cache; the lenient one's zeros must not reach the strict one.
        let caches = SourceCaches.inMemory()
        let lenient = try await PrecomputedVolume.open(store: test.store, caches: caches, fillMissing: true)
        let sharing = try await PrecomputedVolume.open(store: test.store, caches: caches, fillMissing: false)
        _ = try await lenient.planeRows(scale: 0, z: 2, rows: 0..<16)
        await #expect(throws: SourceError.self) { try await sharing.planeRows(scale: 0, z: 2, rows: 0..<16) }
    }

    @Test func failedFetchIsAnErrorNeverZeros() async throws {
        let test = TestVolume(size: Vec3(32, 16, 4), chunk: Vec3(16, 16, 4))
        let failing = FaultInjectingStore(wrapping: test.store) { key in
            key.hasPrefix("s0/16-32") ? .fail(.httpStatus(500, url: "memory://layer/" + key)) : nil
        }
        let volume = try await test.open(store: failing)
        await #expect(throws: StoreError.httpStatus(500, url: "memory://layer/s0/16-32_0-16_0-4")) {
            try await volume.planeRows(scale: 0, z: 0, rows: 0..<1)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func failuresReturnTheirMemoryBudget() async throws {
        let test = TestVolume(size: Vec3(64, 16, 4), chunk: Vec3(16, 16, 4))
        let failing = FaultInjectingStore(wrapping: test.store) { key in
            key.hasPrefix("s0/32-48") ? .fail(.httpStatus(503, url: key)) : nil
        }
        // Room for one chunk at a time: a leaked grant would make the second read wait forever.
        let limiter = ByteLimiter(capacity: 16 * 16 * 4)
        let tight = SourceCaches(chunks: MemoryCache(capacity: 1), metadata: MemoryCache(capacity: 1), disk: nil, inFlight: limiter)
        let volume = try await PrecomputedVolume.open(store: failing, caches: tight)
        for _ in 0..<3 {
            await #expect(throws: StoreError.self) { try await volume.planeRows(scale: 0, z: 0, rows: 0..<16) }
        }
        let good = try await PrecomputedVolume.open(store: test.store, caches: tight)
        #expect(try await good.planeRows(scale: 0, z: 1, rows: 0..<16) == test.expectedRows(z: 1, rows: 0..<16))
    }

    @Test func truncatedChunkIsCorrupt() async throws {
        let test = TestVolume(size: Vec3(16, 16, 4), chunk: Vec3(16, 16, 4))
        let short = FaultInjectingStore(wrapping: test.store) { key in key == "info" ? nil : .replace([1, 2, 3]) }
        let volume = try await test.open(store: short)
        await #expect { try await volume.planeRows(scale: 0, z: 0, rows: 0..<1) } throws: { error in
            "\(error)".contains("corrupt chunk memory://layer/s0/0-16_0-16_0-4")
        }
    }

    /// A chunk damaged on the way (once) is fetched again and served right; one damaged at
    /// the source (every time) is an error.
    @Test func aChunkThatFailsToDecodeIsFetchedOnceMore() async throws {
        let test = TestVolume(size: Vec3(16, 16, 4), chunk: Vec3(16, 16, 4))
        let damaged = Atomic<Int>(0)
        let once = FaultInjectingStore(wrapping: test.store) { key in
            key == "info" || damaged.add(1, ordering: .relaxed).newValue > 1 ? nil : .replace([1, 2, 3])
        }
        let volume = try await test.open(store: once)
        #expect(try await volume.planeRows(scale: 0, z: 2, rows: 0..<16) == test.expectedRows(z: 2, rows: 0..<16))
        #expect(once.injectedCount == 1)
    }

    @Test func slicesOfOneChunkDecodeItOnce() async throws {
        let test = TestVolume(size: Vec3(32, 32, 8), chunk: Vec3(16, 16, 8))
        let volume = try await test.open()
        for z in 0..<8 { _ = try await volume.planeRows(scale: 0, z: z, rows: 0..<32) }
        #expect(test.store.fetchCount == 1 + 4)  // info, then each chunk once
    }

    /// Rows whose chunks are in memory come back at once, the same as an async read;
    /// anything else (a chunk not loaded yet, a missing chunk that must fail) is nil.
    @Test func cachedRowsMatchTheReadAndNeedEveryChunk() async throws {
        let test = TestVolume(size: Vec3(50, 37, 9), offset: Vec3(3, -5, 100), chunk: Vec3(16, 16, 4), channels: 2, dataType: .uint16)
        let volume = try await test.open()
        #expect(volume.planeRowsIfCached(scale: 0, z: 101, rows: 0..<37, columns: 0..<50) == nil)
        // Chunk rows 0 and 1 of layer 0; not whole rows (the last column is left out), so
        // nothing below loads ahead.
        _ = try await volume.planeRows(scale: 0, z: 101, rows: 0..<20, columns: 0..<49)
        let fetched = test.store.fetchCount
        // z 103, not 102: a reader stepping to the next plane would load more ahead.
        for (rows, columns) in [(0..<20, 0..<50), (15..<17, 10..<40), (3..<4, 49..<50)] {
            let whole = test.expectedRows(z: 103, rows: rows)
            var expected: [UInt8] = []
            for y in 0..<rows.count {
                let row = y * 50 * 4
                expected += whole[(row + columns.lowerBound * 4)..<(row + columns.upperBound * 4)]
            }
            #expect(volume.planeRowsIfCached(scale: 0, z: 103, rows: rows, columns: columns) == expected, "rows \(rows) columns \(columns)")
        }
        #expect(volume.planeRowsIfCached(scale: 0, z: 103, rows: 0..<37, columns: 0..<50) == nil)  // chunk row 2 not loaded
        #expect(volume.planeRowsIfCached(scale: 0, z: 99, rows: 0..<1, columns: 0..<1) == nil)  // out of bounds: the read throws
        #expect(test.store.fetchCount == fetched)

        test.store.remove(UnshardedChunkReader.chunkKey(scale: test.geometry, cell: Vec3(1, 0, 0)))
        let strict = try await test.open(fillMissing: false)
        await #expect(throws: SourceError.self) { try await strict.planeRows(scale: 0, z: 100, rows: 0..<1) }
        #expect(strict.planeRowsIfCached(scale: 0, z: 100, rows: 0..<1, columns: 0..<50) == nil)
        // Filling: the missing chunk's part of the cached rows is zeros, as in the read.
        let lenient = try await test.open()
        let read = try await lenient.planeRows(scale: 0, z: 101, rows: 3..<20, columns: 10..<40)
        let cached = try #require(lenient.planeRowsIfCached(scale: 0, z: 101, rows: 3..<20, columns: 10..<40))
        #expect(cached == read)
        // Chunk (1, 0, 0) holds x 16..<32 and y 0..<16: output columns 6..<22 of rows 0..<13.
        for y in 0..<13 { #expect(cached[(y * 30 + 6) * 4..<(y * 30 + 22) * 4].allSatisfy { $0 == 0 }) }
        #expect(cached[(13 * 30 + 6) * 4..<(13 * 30 + 22) * 4].contains { $0 != 0 })
    }

    /// A reader walking z through planes answered from memory still loads the next layer ahead.
    @Test func cachedRowsOfAWalkingReaderPrefetch() async throws {
        let test = TestVolume(size: Vec3(32, 16, 12), chunk: Vec3(16, 16, 4))
        let volume = try await test.open()
        _ = try await volume.planeRows(scale: 0, z: 2, rows: 0..<16)  // layer 0, not walking yet
        #expect(test.store.fetchCount == 1 + 2)
        #expect(volume.planeRowsIfCached(scale: 0, z: 3, rows: 0..<16, columns: 0..<32) == test.expectedRows(z: 3, rows: 0..<16))
        #expect(await eventually { test.store.fetchCount == 1 + 2 + 2 })  // layer 1's chunks
    }

    @Test func aReaderWalkingZPrefetchesTheNextChunks() async throws {
        let test = TestVolume(size: Vec3(32, 16, 12), chunk: Vec3(16, 16, 4))
        let volume = try await test.open()
        _ = try await volume.planeRows(scale: 0, z: 0, rows: 0..<16)
        _ = try await volume.planeRows(scale: 0, z: 1, rows: 0..<16)
        // info + the 2 chunks of z 0..<4, then the 2 of z 4..<8 ahead of need.
        #expect(await eventually { test.store.fetchCount == 1 + 2 + 2 })
        for z in 2..<8 { _ = try await volume.planeRows(scale: 0, z: z, rows: 0..<16) }
        #expect(await eventually { test.store.fetchCount == 1 + 6 })
    }

    @Test func aReaderWalkingZLoadsTheNextChunkRowOfALayerAhead() async throws {
        let test = TestVolume(size: Vec3(16, 48, 8), chunk: Vec3(16, 16, 4))
        // A quarter of this memory tier (1.5 KiB) holds one chunk row (1 KiB).
        let volume = try await test.open(cacheBytes: 6 << 10)
        _ = try await volume.planeRows(scale: 0, z: 3, rows: 0..<48)
        // The first plane of the last layer, read band by band: its second chunk row loads
        // while the first is read, and nothing further ahead.
        _ = try await volume.planeRows(scale: 0, z: 4, rows: 0..<16)
        #expect(await eventually { test.store.fetchCount == 1 + 3 + 1 + 1 })
        try await Task.sleep(for: .milliseconds(100))
        #expect(test.store.fetchCount == 1 + 3 + 1 + 1)
    }

    /// A slice file is read on down its plane, so a read of whole rows loads the chunk rows
    /// below ahead of need, walking or not: as many as fit in a quarter of the memory tier,
    /// none when a row does not.
    @Test(arguments: [(64 << 20, 4), (24 << 10, 3), (6 << 10, 0)])
    func aReadOfWholeRowsLoadsTheChunkRowsBelow(cacheBytes: Int, rowsAhead: Int) async throws {
        let test = TestVolume(size: Vec3(32, 80, 4), chunk: Vec3(16, 16, 4))
        let volume = try await test.open(cacheBytes: cacheBytes)  // a chunk row is 2 KiB
        _ = try await volume.planeRows(scale: 0, z: 2, rows: 0..<8)
        #expect(await eventually { test.store.fetchCount == 1 + 2 + 2 * rowsAhead })
        try await Task.sleep(for: .milliseconds(100))
        #expect(test.store.fetchCount == 1 + 2 + 2 * rowsAhead)
        // Part of a row (a region of a mapped volume.npy) is no sign of a reader going down.
        let region = try await test.open(cacheBytes: cacheBytes)
        let fetched = test.store.fetchCount
        _ = try await region.planeRows(scale: 0, z: 2, rows: 0..<8, columns: 0..<20)
        try await Task.sleep(for: .milliseconds(100))
        #expect(test.store.fetchCount == fetched + 2)
    }

    @Test func aRandomOrSingleSliceReaderDoesNotPrefetch() async throws {
        let test = TestVolume(size: Vec3(32, 16, 12), chunk: Vec3(16, 16, 4))
        let volume = try await test.open()
        for rows in [0..<8, 8..<16] { _ = try await volume.planeRows(scale: 0, z: 1, rows: rows) }  // one slice, band by band
        for z in [9, 2, 6] { _ = try await volume.planeRows(scale: 0, z: z, rows: 0..<16) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(test.store.fetchCount == 1 + 2 * 3)
    }

    /// Polls `condition` for up to two seconds: prefetch runs in the background.
    func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<200 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test func unsupportedEncodingsAreRefusedAtOpen() async throws {
        let store = MemoryStore(["info": Array("""
            {"type": "segmentation", "data_type": "uint64", "num_channels": 1, "scales": [{"key": "s", "size": [1,1,1],
             "chunk_sizes": [[1,1,1]], "resolution": [1,1,1], "encoding": "compresso"}]}
            """.utf8)])
        await #expect { _ = try await TestVolume(size: Vec3(1, 1, 1), chunk: Vec3(1, 1, 1)).open(store: store) } throws: { error in
            "\(error)".contains("encoding 'compresso'")
        }
    }
}
