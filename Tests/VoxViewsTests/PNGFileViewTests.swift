import CZlib
import Testing
import VoxCache
import VoxSources
@testable import VoxViews

@Suite struct PNGFileViewTests {
    func makeView(_ volume: FakeVolume, z: Int = 0) -> PNGFileView {
        let size = volume.scales[0].size
        let template = PNGTemplate(width: size.x, height: size.y, dataType: volume.dataType,
                                   channels: volume.channelCount, rowAlignment: volume.scales[0].chunkSize.y)!
        return PNGFileView(template: template, rows: PlaneRows(volume: volume, scale: 0, z: z),
                           identity: "test/\(z)", bandCache: MemoryCache(capacity: 16 << 20))
    }

    /// Walks the chunks, checking every CRC; returns the concatenated IDAT data.
    func checkedIDAT(_ png: [UInt8]) throws -> [UInt8] {
        #expect(Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var offset = 8, idat: [UInt8] = [], types: [String] = []
        func u32(_ at: Int) -> Int { Int(png[at]) << 24 | Int(png[at + 1]) << 16 | Int(png[at + 2]) << 8 | Int(png[at + 3]) }
        while offset < png.count {
            let length = u32(offset)
            let typed = Array(png[(offset + 4)..<(offset + 8 + length)])
            let crc = typed.withUnsafeBufferPointer { Int(crc32(0, $0.baseAddress, UInt32($0.count))) }
            #expect(crc == u32(offset + 8 + length))
            let type = String(decoding: typed.prefix(4), as: UTF8.self)
            types.append(type)
            if type == "IDAT" { idat += typed.dropFirst(4) }
            offset += length + 12
        }
        #expect(offset == png.count)
        #expect(types.first == "IHDR" && types.last == "IEND")
        return idat
    }

    func inflate(_ data: [UInt8], expected: Int) -> [UInt8] {
        var length = uLong(expected)
        var out = [UInt8](repeating: 0, count: expected)
        let status = uncompress(&out, &length, data, uLong(data.count))
        #expect(status == Z_OK)  // zlib checks the Adler-32 trailer
        #expect(Int(length) == expected)
        return out
    }

    @Test(arguments: [(1, DataType.uint8), (3, .uint8), (4, .uint8), (1, .uint16)])
    func wholeFileIsAValidPNGOfTheRows(channels: Int, dataType: DataType) async throws {
        // 300 x 1000 rows of 8-bit RGB are 900 bytes: bands of several rows, several stored blocks.
        let volume = FakeVolume(size: Vec3(300, 170, 2), chunk: Vec3(64, 64, 1), channels: channels, dataType: dataType)
        let view = makeView(volume, z: 1)
        let png = try await view.read(offset: 0, count: view.size + 100)
        #expect(png.count == view.size)
        let rowBytes = volume.rowByteCount(scale: 0)
        let scanlines = inflate(try checkedIDAT(png), expected: 170 * (rowBytes + 1))
        let pixels = try await volume.planeRows(scale: 0, z: 1, rows: 0..<170)
        for y in 0..<170 {
            #expect(scanlines[y * (rowBytes + 1)] == 0)
            var row = Array(pixels[(y * rowBytes)..<((y + 1) * rowBytes)])
            if dataType == .uint16 {
                for i in stride(from: 0, to: row.count, by: 2) { row.swapAt(i, i + 1) }
            }
            #expect(Array(scanlines[(y * (rowBytes + 1) + 1)..<((y + 1) * (rowBytes + 1))]) == row)
        }
    }

    @Test func anyRangeEqualsTheSameBytesOfTheWholeFile() async throws {
        let volume = FakeVolume(size: Vec3(1000, 300, 1), chunk: Vec3(256, 100, 1))
        let view = makeView(volume)
        let whole = try await view.read(offset: 0, count: view.size)
        for (offset, count) in [(0, 1), (0, 40), (33, 5000), (70_000, 70_000), (view.size - 30, 30), (view.size - 5, 100), (view.size, 10), (123_457, 1)] {
            let part = try await makeView(volume).read(offset: offset, count: count)
            let end = min(offset + count, view.size)
            #expect(part == Array(whole[min(offset, view.size)..<end]), "offset \(offset) count \(count)")
        }
    }

    @Test func aReadFetchesOnlyTheRowsOfItsBand() async throws {
        let volume = FakeVolume(size: Vec3(4000, 600, 1), chunk: Vec3(512, 128, 1))
        let view = makeView(volume)
        volume.forgetRequests()
        _ = try await view.read(offset: view.size / 2, count: 4096)
        let rows = volume.requestedRows
        #expect(rows.count == 1)
        // Bands stay inside one chunk row, so one read touches one row of chunks.
        #expect(rows[0].lowerBound / 128 == (rows[0].upperBound - 1) / 128)
        #expect(rows[0].count <= 128)
    }

    @Test func cachedReadsAnswerOnlyWhatIsRenderedAndMatch() async throws {
        let volume = FakeVolume(size: Vec3(3000, 200, 1), chunk: Vec3(512, 64, 1))
        let view = makeView(volume)
        let offset = 100_000, count = 131_072
        #expect(view.readIfCached(offset: offset, count: count) == nil)
        let read = try await view.read(offset: offset, count: count)
        #expect(view.readIfCached(offset: offset, count: count) == read)
        #expect(view.readIfCached(offset: view.size - 10, count: 10) == nil)  // the trailer is never answered early
    }

    /// Bands whose rows are in memory are rendered on the spot; the trailer still waits.
    @Test(arguments: [DataType.uint8, .uint16])
    func cachedReadsRenderBandsWhoseRowsAreInMemory(dataType: DataType) async throws {
        let volume = FakeVolume(size: Vec3(3000, 200, 1), chunk: Vec3(512, 64, 1), dataType: dataType)
        let reference = makeView(volume)
        let whole = try await reference.read(offset: 0, count: reference.size)
        volume.inMemory.store(true, ordering: .relaxed)
        // A fresh view for each read: no band is being rendered ahead of it (a band being
        // rendered is left to the async read).
        for (offset, count) in [(0, 100), (100_000, 131_072), (300_000, 200_000)] {
            #expect(makeView(volume).readIfCached(offset: offset, count: count) == Array(whole[offset..<(offset + count)]))
        }
        #expect(makeView(volume).readIfCached(offset: reference.size - 10, count: 10) == nil)
    }

    @Test func sizeDependsOnlyOnShape() {
        let a = PNGTemplate(width: 500, height: 400, dataType: .uint8, channels: 1, rowAlignment: 64)!
        let b = PNGTemplate(width: 500, height: 400, dataType: .uint8, channels: 1, rowAlignment: 64)!
        #expect(a.fileSize == b.fileSize)
        #expect(a.fileSize > 500 * 400)
        #expect(PNGTemplate(width: 5, height: 4, dataType: .float32, channels: 1, rowAlignment: 1) == nil)
        #expect(PNGTemplate(width: 5, height: 4, dataType: .uint8, channels: 2, rowAlignment: 1) == nil)
    }

    @Test func bandCountIsKnownBeforeTheTableIsMade() {
        for (height, rowBytes, alignment) in [(170, 300, 64), (1000, 900_000, 7), (5, 3, 10), (4096, 2 << 20, 1)] {
            let layout = PNGLayout(height: height, rowBytes: rowBytes, rowAlignment: alignment)
            #expect(layout.bands.count == PNGLayout.bandCount(height: height, rowBytes: rowBytes, rowAlignment: alignment))
        }
        // A hostile shape: 16M one-row chunk rows would need 16M bands; no PNG form is offered.
        #expect(PNGTemplate(width: 1, height: 1 << 24, dataType: .uint8, channels: 1, rowAlignment: 1) == nil)
        #expect(PNGTemplate(width: 1, height: 1 << 20, dataType: .uint8, channels: 1, rowAlignment: 1) != nil)
    }
}
