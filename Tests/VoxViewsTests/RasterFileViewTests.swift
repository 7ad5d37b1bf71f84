import Testing
import VoxSources
@testable import VoxViews

@Suite struct RasterFileViewTests {
    @Test func npyHeaderIsAlignedAndDescribesTheArray() {
        let header = NPYHeader.make(dataType: .uint16, shape: [3, 5, 7])
        #expect(header.count % 64 == 0)
        #expect(Array(header[0..<8]) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        #expect(Int(header[8]) | Int(header[9]) << 8 == header.count - 10)
        let dict = String(decoding: header[10...], as: UTF8.self)
        #expect(dict.hasPrefix("{'descr': '<u2', 'fortran_order': False, 'shape': (3, 5, 7), }"))
        #expect(dict.hasSuffix(" \n"))
        #expect(String(decoding: NPYHeader.make(dataType: .uint8, shape: [4])[10...], as: UTF8.self).contains("'shape': (4,)"))
    }

    @Test func rangesMapStraightToRows() async throws {
        let volume = FakeVolume(size: Vec3(10, 6, 3), chunk: Vec3(4, 4, 1), zOffset: 5)
        let view = RasterFileView(header: Array(repeating: 0xAA, count: 64), rows: StackRows(volume: volume, scale: 0))
        #expect(view.size == 64 + 10 * 6 * 3)
        let whole = try await view.read(offset: 0, count: view.size)
        var expected = [UInt8](repeating: 0xAA, count: 64)
        for z in 5..<8 { expected += try await volume.planeRows(scale: 0, z: z, rows: 0..<6) }
        #expect(whole == expected)
        for (offset, count) in [(0, 3), (60, 10), (64 + 55, 70), (view.size - 1, 5), (view.size + 3, 5)] {
            let part = try await view.read(offset: offset, count: count)
            #expect(part == Array(whole[min(offset, whole.count)..<min(offset + count, whole.count)]))
        }
    }

    @Test(arguments: [(1, DataType.uint8), (3, .uint8), (1, .float32), (2, .int16), (1, .uint64)])
    func tiffHeaderDescribesTheStrips(channels: Int, dataType: DataType) throws {
        let width = 37, height = 29
        let header = TIFFHeader.make(width: width, height: height, channels: channels, dataType: dataType)
        let tags = try TIFFReader.tags(header)
        #expect(tags[256] == [UInt64(width)])
        #expect(tags[257] == [UInt64(height)])
        #expect(tags[258] == Array(repeating: UInt64(dataType.byteWidth * 8), count: channels))
        #expect(tags[259] == [1])
        #expect(tags[277] == [UInt64(channels)])
        #expect(tags[339] == Array(repeating: UInt64(dataType.tiffSampleFormat), count: channels))
        let offsets = tags[273]!, counts = tags[279]!
        #expect(offsets.first == UInt64(header.count))
        #expect(counts.reduce(0, +) == UInt64(width * height * channels * dataType.byteWidth))
        for i in 1..<offsets.count { #expect(offsets[i] == offsets[i - 1] + counts[i - 1]) }
    }

    @Test func stacksHaveOnePagePerPlaneInOrder() throws {
        let (width, height, pages) = (9, 4, 5)
        let header = TIFFHeader.make(width: width, height: height, channels: 3, dataType: .uint16, pages: pages)
        let directories = try TIFFReader.pages(header)
        #expect(directories.count == pages)
        let pageBytes = UInt64(width * height * 3 * 2)
        for (index, tags) in directories.enumerated() {
            #expect(tags[256] == [UInt64(width)] && tags[257] == [UInt64(height)] && tags[262] == [2])
            #expect(tags[273]!.first == UInt64(header.count) + UInt64(index) * pageBytes)
            #expect(tags[279]!.reduce(0, +) == pageBytes)
        }
    }

    @Test func aBoxReadsItsColumnsOfEachPlaneAndTheTrailerFollows() async throws {
        let volume = FakeVolume(size: Vec3(10, 6, 4), chunk: Vec3(4, 4, 1), zOffset: 5, channels: 2)
        let rows = StackRows(volume: volume, scale: 0, begin: Vec3(3, 1, 1), end: Vec3(7, 5, 3))
        #expect(rows.rowCount == 4 * 2 && rows.rowByteCount == 4 * 2)
        let view = RasterFileView(header: [1, 2], rows: rows, trailer: [7, 8, 9])
        #expect(view.size == 2 + 8 * 8 + 3)
        var expected: [UInt8] = [1, 2]
        for z in 6..<8 {
            let plane = try await volume.planeRows(scale: 0, z: z, rows: 0..<6)
            for y in 1..<5 { expected += plane[(y * 20 + 6)..<(y * 20 + 14)] }
        }
        expected += [7, 8, 9]
        #expect(try await view.read(offset: 0, count: view.size) == expected)
        #expect(try await view.read(offset: view.size - 5, count: 10) == Array(expected.suffix(5)))
        #expect(try await view.read(offset: 1, count: 3) == Array(expected[1..<4]))
    }

    /// The FUSE thread's answer: the same bytes as a read when the rows are in memory, nil
    /// when pixels are not; header and trailer bytes need no rows.
    @Test func cachedReadsMatchReadsWhenTheRowsAreInMemory() async throws {
        let volume = FakeVolume(size: Vec3(10, 6, 4), chunk: Vec3(4, 4, 1), zOffset: 5, channels: 2)
        let view = RasterFileView(header: [1, 2], rows: StackRows(volume: volume, scale: 0, begin: Vec3(3, 1, 1), end: Vec3(7, 5, 3)),
                                  trailer: [7, 8, 9])
        let whole = try await view.read(offset: 0, count: view.size)
        let ranges = [(0, 2), (0, 3), (1, 20), (10, 8), (view.size - 3, 3), (view.size - 5, 10), (view.size + 1, 4)]
        #expect(view.readIfCached(offset: 0, count: 2) == [1, 2])
        #expect(view.readIfCached(offset: view.size - 3, count: 3) == [7, 8, 9])
        #expect(view.readIfCached(offset: 1, count: 20) == nil)
        volume.inMemory.store(true, ordering: .relaxed)
        for (offset, count) in ranges {
            let expected = Array(whole[min(offset, whole.count)..<min(offset + count, whole.count)])
            #expect(view.readIfCached(offset: offset, count: count) == expected, "offset \(offset) count \(count)")
        }
    }

    @Test func wideImagesGetBigTIFF() {
        let header = TIFFHeader.make(width: 70_000, height: 70_000, channels: 1, dataType: .uint8)
        #expect(Array(header[0..<4]) == [0x49, 0x49, 43, 0])
    }
}

/// Reads the IFDs of a classic little-endian TIFF: tag -> values.
enum TIFFReader {
    struct Malformed: Error {}

    static func tags(_ bytes: [UInt8]) throws -> [UInt16: [UInt64]] {
        try pages(bytes)[0]
    }

    /// Every IFD, following the chain.
    static func pages(_ bytes: [UInt8]) throws -> [[UInt16: [UInt64]]] {
        func u16(_ at: Int) -> UInt64 { UInt64(bytes[at]) | UInt64(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt64 { u16(at) | u16(at + 2) << 16 }
        guard bytes[0] == 0x49, bytes[1] == 0x49, u16(2) == 42 else { throw Malformed() }
        var pages: [[UInt16: [UInt64]]] = []
        var ifd = Int(u32(4))
        while ifd != 0 {
            guard ifd % 2 == 0, ifd + 2 <= bytes.count, pages.count < 10_000 else { throw Malformed() }
            pages.append(directory(bytes, at: ifd))
            ifd = Int(u32(ifd + 2 + Int(u16(ifd)) * 12))
        }
        return pages
    }

    private static func directory(_ bytes: [UInt8], at ifd: Int) -> [UInt16: [UInt64]] {
        func u16(_ at: Int) -> UInt64 { UInt64(bytes[at]) | UInt64(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt64 { u16(at) | u16(at + 2) << 16 }
        var out: [UInt16: [UInt64]] = [:]
        for entry in 0..<Int(u16(ifd)) {
            let at = ifd + 2 + entry * 12
            let tag = UInt16(u16(at)), type = u16(at + 2), count = Int(u32(at + 4))
            let size = type == 3 ? 2 : (type == 4 ? 4 : 8)
            let base = count * size <= 4 ? at + 8 : Int(u32(at + 8))
            out[tag] = (0..<count).map { i in
                switch type {
                case 3: u16(base + i * 2)
                case 4: u32(base + i * 4)
                default: u32(base + i * 8) | u32(base + i * 8 + 4) << 32
                }
            }
        }
        return out
    }
}
