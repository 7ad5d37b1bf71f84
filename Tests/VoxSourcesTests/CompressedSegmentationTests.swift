import Foundation
import Testing
import VoxCache
import VoxTransport
import VoxSources

@Suite struct CompressedSegmentationTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func fixture(_ name: String) throws -> (encoded: [UInt8], raw: [UInt8]) {
        let encoded = try Data(contentsOf: Self.fixtures.appendingPathComponent("cseg_\(name).enc"))
        let raw = try Data(contentsOf: Self.fixtures.appendingPathComponent("cseg_\(name).raw"))
        return ([UInt8](encoded), [UInt8](raw))
    }

    /// Fixtures from the `compressed_segmentation` package: ids above 2^53, partial edge
    /// blocks, one-value blocks (0 bits) up to 300 values (16 bits).
    @Test(arguments: [
        ("u64_mixed", DataType.uint64, Vec3(6, 5, 3), Vec3(4, 4, 2)),
        ("u32_many", .uint32, Vec3(9, 7, 4), Vec3(4, 3, 3)),
        ("u64_single", .uint64, Vec3(5, 5, 2), Vec3(8, 8, 8)),
        ("u64_16bit", .uint64, Vec3(20, 20, 2), Vec3(8, 8, 2)),
    ])
    func decodesWhatAnIndependentEncoderWrote(name: String, dataType: DataType, shape: Vec3, block: Vec3) throws {
        let (encoded, raw) = try fixture(name)
        let decoded = try CompressedSegmentationDecoder(blockSize: block)
            .decode(encoded, layout: ChunkLayout(shape: shape, channelCount: 1, dataType: dataType))
        #expect(decoded == raw)
    }

    /// The disk tier keeps the stored stream, not the voxels: a new mount decodes it again
    /// with the chunk gone from the server (it looks only under the stored form's key).
    @Test func theDiskCacheKeepsTheStoredForm() async throws {
        let (encoded, raw) = try fixture("u64_mixed")
        let info = #"{"type": "segmentation", "data_type": "uint64", "num_channels": 1, "scales": [{"key": "s", "size": [6, 5, 3], "#
            + #""voxel_offset": [0, 0, 0], "chunk_sizes": [[6, 5, 3]], "resolution": [1, 1, 1], "encoding": "compressed_segmentation", "#
            + #""compressed_segmentation_block_size": [4, 4, 2]}]}"#
        let store = MemoryStore(["info": Array(info.utf8), "s/0-6_0-5_0-3": encoded])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxfs-cseg-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try DiskCache(directory: directory, capacity: 1 << 24, minimumFreeBytes: 0)
        func caches() -> SourceCaches {
            SourceCaches(chunks: MemoryCache(capacity: 1 << 20), metadata: MemoryCache(capacity: 1 << 20), disk: disk,
                         inFlight: ByteLimiter(capacity: 1 << 20))
        }
        let first = try await PrecomputedVolume.open(store: store, caches: caches())
        #expect(try await first.chunk(scale: 0, cell: Vec3(0, 0, 0)).voxels == raw)
        disk.flush()
        let second = try await PrecomputedVolume.open(store: store, caches: caches())
        store.remove("s/0-6_0-5_0-3")
        #expect(try await second.chunk(scale: 0, cell: Vec3(0, 0, 0)).voxels == raw)
    }

    @Test func keepsIdsAbove2To53Exactly() throws {
        let (encoded, _) = try fixture("u64_mixed")
        let decoded = try CompressedSegmentationDecoder(blockSize: Vec3(4, 4, 2))
            .decode(encoded, layout: ChunkLayout(shape: Vec3(6, 5, 3), channelCount: 1, dataType: .uint64))
        let ids = Set(stride(from: 0, to: decoded.count, by: 8).map { i in
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(decoded[i + $1]) << (8 * UInt64($1)) }
        })
        #expect(ids.contains(864_691_135_122_603_047))
        #expect(ids.contains((1 << 63) + 12345))
    }

    /// Damaged streams fail to decode: never a crash, never an out-of-bounds read.
    @Test func malformedStreamsAreErrors() throws {
        let (encoded, _) = try fixture("u32_many")
        let layout = ChunkLayout(shape: Vec3(9, 7, 4), channelCount: 1, dataType: .uint32)
        let decoder = CompressedSegmentationDecoder(blockSize: Vec3(4, 3, 3))
        func fails(_ bytes: [UInt8], _ why: String) {
            #expect(throws: ChunkDecodeError.self, "\(why)") { try decoder.decode(bytes, layout: layout) }
        }
        fails([], "empty")
        fails(Array(encoded.prefix(encoded.count - 1)), "not whole words")
        fails(Array(encoded.prefix(40)), "truncated in the headers")
        fails(Array(encoded.prefix(encoded.count / 2)), "truncated in the values")
        var badBits = encoded
        badBits[4 + 3] = 3  // block 0 header, top byte: 3 bits is not an allowed width
        fails(badBits, "bit width 3")
        var farTable = encoded
        farTable[4] = 0xFF; farTable[5] = 0xFF; farTable[6] = 0x7F  // lookup table offset far past the end
        fails(farTable, "table offset out of range")
        var farValues = encoded
        farValues[8 + 3] = 0x7F  // values offset far past the end
        fails(farValues, "values offset out of range")
        var farChannel = encoded
        farChannel[3] = 0x7F  // channel offset far past the end
        fails(farChannel, "channel offset out of range")
        #expect(throws: ChunkDecodeError.self) {
            try decoder.decode(encoded, layout: ChunkLayout(shape: Vec3(9, 7, 4), channelCount: 1, dataType: .uint8))
        }
    }
}
