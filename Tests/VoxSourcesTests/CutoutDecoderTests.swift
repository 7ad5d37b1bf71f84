import Foundation
import Testing
@testable import VoxSources

@Suite struct CutoutDecoderTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// (Z, Y, X) = (2, 3, 4) is x = 4, y = 3, z = 2 in voxfs's terms.
    static let layoutShape = Vec3(4, 3, 2)

    func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: Self.fixtures.appendingPathComponent(name)))
    }

    func samples<T: FixedWidthInteger>(_ bytes: [UInt8], as: T.Type) -> [T] {
        bytes.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
    }

    @Test func hdf5RootCutout() throws {
        let decoded = try HDF5CutoutDecoder(channel: "em").decode(
            try fixture("cutout_root_u8.h5"), layout: ChunkLayout(shape: Self.layoutShape, channelCount: 1, dataType: .uint8))
        let expected: [UInt8] = (0..<24).map { UInt8($0 * 7) }
        #expect(decoded == expected)
    }

    @Test func hdf5ChannelCutoutWithGzip() throws {
        let decoded = try HDF5CutoutDecoder(channel: "anno").decode(
            try fixture("cutout_channel_u32_gzip.h5"), layout: ChunkLayout(shape: Self.layoutShape, channelCount: 1, dataType: .uint32))
        let expected: [UInt32] = (0..<24).map { UInt32($0) * 100_003 + 7 }
        #expect(samples(decoded, as: UInt32.self) == expected)
    }

    @Test func hdf5ShapeTypeAndGarbageAreErrors() throws {
        let file = try fixture("cutout_root_u8.h5")
        #expect(throws: ChunkDecodeError.self) {
            try HDF5CutoutDecoder(channel: "em").decode(file, layout: ChunkLayout(shape: Vec3(4, 3, 3), channelCount: 1, dataType: .uint8))
        }
        #expect(throws: ChunkDecodeError.self) {
            try HDF5CutoutDecoder(channel: "em").decode(file, layout: ChunkLayout(shape: Self.layoutShape, channelCount: 1, dataType: .uint16))
        }
        #expect(throws: HDF5Array.Failure.self) {
            try HDF5CutoutDecoder(channel: "em").decode(Array(file.prefix(1000)), layout: ChunkLayout(shape: Self.layoutShape, channelCount: 1, dataType: .uint8))
        }
        #expect(throws: HDF5Array.Failure.self) {
            try HDF5CutoutDecoder(channel: "em").decode(Array(repeating: 7, count: 4096), layout: ChunkLayout(shape: Self.layoutShape, channelCount: 1, dataType: .uint8))
        }
    }

    @Test func npyGzip() throws {
        let big = try NPYGzipDecoder().decode(
            try fixture("cutout_u64.npygz"), layout: ChunkLayout(shape: Self.layoutShape, channelCount: 1, dataType: .uint64))
        let expectedBig: [UInt64] = (0..<24).map { UInt64($0) + (1 << 60) }
        #expect(samples(big, as: UInt64.self) == expectedBig)
        let swapped = try NPYGzipDecoder().decode(
            try fixture("cutout_u16_bigendian.npygz"), layout: ChunkLayout(shape: Self.layoutShape, channelCount: 1, dataType: .uint16))
        let expectedSwapped: [UInt16] = (0..<24).map { UInt16($0) * 300 }
        #expect(samples(swapped, as: UInt16.self) == expectedSwapped)
        #expect(throws: (any Error).self) {
            try NPYGzipDecoder().decode([1, 2, 3], layout: ChunkLayout(shape: Self.layoutShape, channelCount: 1, dataType: .uint64))
        }
    }
}
