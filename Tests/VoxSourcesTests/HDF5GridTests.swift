import Foundation
import Synchronization
import Testing
@testable import VoxSources

/// A file in memory whose metadata must be loaded (in 1 KiB blocks) before `cached` gives
/// it, counting loads and fetches, and failing fetches on demand.
final class MemoryBytes: RemoteBytes {
    let bytes: [UInt8]
    let url: String
    private struct State {
        var loadedBlocks: Set<Int> = []
        var loads = 0
        var fetched = 0
        var failFetches = false
    }
    private let state = Mutex(State())
    static let block = 1024

    init(_ bytes: [UInt8], url: String = "memory://cube.h5") {
        self.bytes = bytes
        self.url = url
    }

    var size: Int { bytes.count }
    var loads: Int { state.withLock { $0.loads } }
    var fetchedBytes: Int { state.withLock { $0.fetched } }
    func failFetches(_ fail: Bool) { state.withLock { $0.failFetches = fail } }

    private func blocks(_ range: Range<Int>) -> ClosedRange<Int> { (range.lowerBound / Self.block)...((range.upperBound - 1) / Self.block) }

    func cached(_ range: Range<Int>) -> [UInt8]? {
        let ready = state.withLock { state in blocks(range).allSatisfy { state.loadedBlocks.contains($0) } }
        return ready ? Array(bytes[range]) : nil
    }

    func load(_ range: Range<Int>) async throws {
        state.withLock { state in
            state.loads += 1
            state.loadedBlocks.formUnion(blocks(range))
        }
    }

    func fetch(_ range: Range<Int>) async throws -> [UInt8] {
        try state.withLock { state in
            if state.failFetches { throw SourceError.unreadableFile("injected failure", url: url) }
            state.fetched += range.count
        }
        return Array(bytes[range])
    }
}

@Suite struct HDF5GridTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// The fixtures' (Z, Y, X) = (6, 5, 7).
    static let shape = Vec3(7, 5, 6)

    func fixture(_ name: String) throws -> MemoryBytes {
        MemoryBytes(Array(try Data(contentsOf: Self.fixtures.appendingPathComponent(name))), url: "memory://" + name)
    }

    /// Element `i` (C order over (Z, Y, X)) of the fixtures' formulas.
    static func a(_ i: Int) -> UInt8 { UInt8(i * 7 % 251) }
    static func b(_ i: Int) -> Int { i * 100_003 + 7 }

    /// The C-order indices of box [begin, end) of the fixture shape, in precomputed order.
    static func indices(_ begin: Vec3, _ end: Vec3) -> [Int] {
        var out: [Int] = []
        for z in begin.z..<end.z { for y in begin.y..<end.y { for x in begin.x..<end.x { out.append((z * shape.y + y) * shape.x + x) } } }
        return out
    }

    func values<T: FixedWidthInteger>(_ bytes: [UInt8], as: T.Type) -> [T] {
        bytes.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
    }

    @Test func contiguousBoxes() async throws {
        let file = try fixture("grid_contiguous_u8.h5")
        let dataset = try await HDF5RemoteDataset.open(file, path: "/data")
        #expect(dataset.shape == Self.shape)
        #expect(dataset.dataType == .uint8)
        guard case .contiguous(address: .some) = dataset.storage else { Issue.record("storage \(dataset.storage)"); return }
        for (begin, end) in [(Vec3(0, 0, 0), Self.shape), (Vec3(2, 1, 3), Vec3(5, 4, 4)), (Vec3(0, 2, 1), Vec3(7, 3, 6))] {
            let got = try await dataset.read(from: begin, to: end)
            #expect(got == Self.indices(begin, end).map(Self.a), "box \(begin)..\(end)")
        }
        #expect(file.loads >= 1)  // metadata came through `load`, data through `fetch`
        #expect(file.fetchedBytes < 3 * Self.shape.product)
    }

    @Test func chunkedShuffledDeflatedBigEndianWithChecksums() async throws {
        let dataset = try await HDF5RemoteDataset.open(try fixture("grid_chunked_u16be.h5"), path: "/data")
        #expect(dataset.dataType == .uint16 && dataset.storedBigEndian)
        #expect(dataset.storage == .chunked(shape: Vec3(3, 2, 4), pipeline: [.shuffle(elementSize: 2), .deflate, .fletcher32]))
        for (begin, end) in [(Vec3(0, 0, 0), Self.shape), (Vec3(1, 1, 1), Vec3(6, 4, 5)), (Vec3(6, 4, 5), Vec3(7, 5, 6))] {
            let got = values(try await dataset.read(from: begin, to: end), as: UInt16.self)
            #expect(got == Self.indices(begin, end).map { UInt16(Self.b($0) % 65536) }, "box \(begin)..\(end)")
        }
    }

    @Test func unwrittenChunksReadAsTheFillValue() async throws {
        let dataset = try await HDF5RemoteDataset.open(try fixture("grid_partial_i32.h5"), path: "/data")
        let got = values(try await dataset.read(from: Vec3(0, 0, 0), to: Self.shape), as: Int32.self)
        let expected = Self.indices(Vec3(0, 0, 0), Self.shape).map { i in i < 3 * 35 ? Int32(-(Self.b(i) % 1000)) : -5 }
        #expect(got == expected)
    }

    @Test func unsupportedFiltersMissingDatasetsAndGarbageAreErrors() async throws {
        await #expect(throws: SourceError.self) { try await HDF5RemoteDataset.open(try fixture("grid_lzf_u8.h5"), path: "/data") }
        await #expect(throws: SourceError.self) { try await HDF5RemoteDataset.open(try fixture("grid_contiguous_u8.h5"), path: "/nope") }
        await #expect(throws: SourceError.self) { try await HDF5RemoteDataset.open(MemoryBytes([UInt8](repeating: 9, count: 5000)), path: "/data") }
        let file = try fixture("grid_chunked_u16be.h5")
        await #expect(throws: SourceError.self) {
            try await HDF5RemoteDataset.open(MemoryBytes(Array(file.bytes.prefix(1500))), path: "/data").read(from: Vec3(0, 0, 0), to: Self.shape)
        }
    }

    @Test func aFailedFetchIsAnErrorNotZeros() async throws {
        let file = try fixture("grid_chunked_u16be.h5")
        let dataset = try await HDF5RemoteDataset.open(file, path: "/data")
        file.failFetches(true)
        await #expect(throws: SourceError.self) { try await dataset.read(from: Vec3(0, 0, 0), to: Vec3(2, 2, 2)) }
        file.failFetches(false)
        #expect(try await dataset.read(from: Vec3(0, 0, 0), to: Vec3(1, 1, 1)).count == 2)
    }

    @Test func corruptChunkBytesAreAnError() async throws {
        var bytes = try fixture("grid_chunked_u16be.h5").bytes
        let dataset = try await HDF5RemoteDataset.open(MemoryBytes(bytes), path: "/data")
        guard case let .chunked(chunk, _) = dataset.storage, let location = try await dataset.chunkLocation(Vec3(0, 0, 0), chunk: chunk) else {
            Issue.record("no chunk location")
            return
        }
        bytes[location.range.lowerBound + 3] ^= 0xFF
        let damaged = try await HDF5RemoteDataset.open(MemoryBytes(bytes), path: "/data")
        await #expect(throws: SourceError.self) { try await damaged.read(from: Vec3(0, 0, 0), to: Vec3(1, 1, 1)) }
    }

    /// (Fletcher-32 is checked against h5py's files above: a wrong sum fails every chunk.)
    @Test func unshuffleRegroupsBytesAndKeepsATail() {
        #expect(HDF5Filter.unshuffle([1, 3, 5, 2, 4, 6, 9], elementSize: 2) == [1, 2, 3, 4, 5, 6, 9])
        #expect(HDF5Filter.unshuffle([1, 2, 3], elementSize: 1) == [1, 2, 3])
    }

    @Test func patternsNameCubes() throws {
        let layout = try HDF5GridLayout(pattern: "x{x}y{y}z{z}.hdf5", cube: Vec3(1024, 1024, 1024), resolution: [11.24, 11.24, 28], origin: Vec3(1, 1, 1))
        #expect(layout.cubeIndex(of: "x2y4z3.hdf5") == Vec3(2, 4, 3))
        #expect(layout.cubeIndex(of: "x02y14z-3.hdf5") == Vec3(2, 14, -3))
        for name in ["x2y4z3.h5", "x2y4.hdf5", "xay4z3.hdf5", "x2y4z3.hdf5.bak", "X2y4z3.hdf5", "x2y4z.hdf5"] {
            #expect(layout.cubeIndex(of: name) == nil, "\(name)")
        }
        #expect(layout.cube(holding: Vec3(1, 1024, 1025)) == Vec3(0, 0, 1))
        #expect(layout.cube(holding: Vec3(0, 1, 1)) == Vec3(-1, 0, 0))
        let other = try HDF5GridLayout(pattern: "{z}/{y}_{x}.h5".replacingOccurrences(of: "/", with: "-"), cube: Vec3(8, 8, 8), resolution: [1, 1, 1])
        #expect(other.cubeIndex(of: "3-10_2.h5") == Vec3(2, 10, 3))
        #expect(throws: HDF5GridLayout.Invalid.self) { try HDF5GridLayout(pattern: "x{x}y{y}.h5", cube: Vec3(1, 1, 1), resolution: [1, 1, 1]) }
        #expect(throws: HDF5GridLayout.Invalid.self) { try HDF5GridLayout(pattern: "x{x}y{y}z{z}{z}", cube: Vec3(1, 1, 1), resolution: [1, 1, 1]) }
        #expect(throws: HDF5GridLayout.Invalid.self) { try HDF5GridLayout(pattern: "{x}{y}{z}", cube: Vec3(0, 1, 1), resolution: [1, 1, 1]) }
        #expect(throws: HDF5GridLayout.Invalid.self) { try HDF5GridLayout(pattern: "{x}{y}{z}", cube: Vec3(1, 1, 1), resolution: [1, -1, 1]) }
    }

    /// Two cubes along x with a gap between them: the gap reads as zeros, or fails without fill_missing.
    @Test func aGridIsOneVolumeAndMissingCubesAreZeros() async throws {
        let layout = try HDF5GridLayout(pattern: "c{x}_{y}_{z}.h5", cube: Self.shape, resolution: [4, 4, 40], origin: Vec3(1, 1, 1))
        let cube = try fixture("grid_contiguous_u8.h5").bytes
        let cubes: [Vec3: any RemoteBytes] = [Vec3(3, 0, 0): MemoryBytes(cube), Vec3(5, 0, 0): MemoryBytes(cube)]
        for fill in [true, false] {
            let volume = try await HDF5GridVolume.open(
                layout: layout, cubes: cubes, version: "v1", location: "memory://grid", caches: .inMemory(), fillMissing: fill)
            let scale = volume.scales[0]
            #expect(scale.voxelOffset == Vec3(22, 1, 1) && scale.size == Vec3(21, 5, 6))
            #expect(scale.chunkSize == Vec3(7, 5, 1))
            #expect(volume.info.layerType == "image" && volume.dataType == .uint8)
            let row = Array(0..<7).map { Self.a(2 * 35 + 3 * 7 + $0) }
            if fill {
                let rows = try await volume.planeRows(scale: 0, z: 3, rows: 3..<4)
                #expect(rows == row + [UInt8](repeating: 0, count: 7) + row)
            } else {
                await #expect(throws: SourceError.self) { try await volume.planeRows(scale: 0, z: 3, rows: 3..<4) }
                #expect(try await volume.planeRows(scale: 0, z: 3, rows: 3..<4, columns: 14..<21) == row)
            }
        }
    }

    /// Volume chunks smaller than the HDF5 chunks share each decoded HDF5 chunk: reading the
    /// whole cube fetches every stored chunk once.
    @Test func hdf5ChunksSplitIntoVolumeChunksAreFetchedOnce() async throws {
        let file = try fixture("grid_chunked_u16be.h5")
        let layout = try HDF5GridLayout(pattern: "{x}{y}{z}", cube: Self.shape, resolution: [1, 1, 1])
        let volume = try await HDF5GridVolume.open(
            layout: layout, cubes: [Vec3(0, 0, 0): file], version: "v", location: "memory://g", caches: .inMemory())
        for z in 0..<Self.shape.z {
            let got = values(try await volume.planeRows(scale: 0, z: z, rows: 0..<Self.shape.y), as: UInt16.self)
            #expect(got == Self.indices(Vec3(0, 0, z), Vec3(7, 5, z + 1)).map { UInt16(Self.b($0) % 65536) })
        }
        let dataset = try await HDF5RemoteDataset.open(file, path: "/data")
        guard case let .chunked(chunk, _) = dataset.storage else { Issue.record("not chunked"); return }
        var stored = 0
        for z in 0..<2 { for y in 0..<3 { for x in 0..<3 {
            stored += try await dataset.chunkLocation(Vec3(x, y, z), chunk: chunk)?.range.count ?? 0
        } } }
        #expect(file.fetchedBytes == stored)
    }

    @Test func chunkedCubesGiveChunksThatTileThem() async throws {
        let dataset = try await HDF5RemoteDataset.open(try fixture("grid_chunked_u16be.h5"), path: "/data")
        let layout = try HDF5GridLayout(pattern: "{x}{y}{z}", cube: Self.shape, resolution: [1, 1, 1])
        // HDF5 chunks (x, y, z) = (3, 2, 4) do not divide (7, 5, 6): the largest divisors below them do.
        #expect(HDF5GridVolume.chunkSize(dataset, layout: layout) == Vec3(1, 1, 3))
    }
}
