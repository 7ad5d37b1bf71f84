import Testing
@testable import VoxSources
import VoxTransport

@Suite struct ShardingTests {
    /// Vectors from the `mmh3` package: `hash64(struct.pack('<Q', v), seed=0, x64arch=False, signed=False)[0]`.
    @Test(arguments: [
        (UInt64(0), UInt64(5_148_371_408_780_832_321)), (1, 16_770_674_756_601_302_682), (12345, 2_103_515_819_662_501_136),
        (864_691_135_122_603_047, 11_555_797_253_185_414_185), (.max, 6_291_360_166_951_214_362),
    ])
    func murmurMatchesReference(value: UInt64, expected: UInt64) {
        #expect(MurmurHash3.x86_128Low64(value) == expected)
    }

    @Test func compressedMortonCodeSkipsFullAxes() {
        let scale = ScaleGeometry(key: "s", size: Vec3(64, 32, 16), voxelOffset: Vec3(0, 0, 0), chunkSize: Vec3(16, 16, 16),
                                  resolution: [1, 1, 1], encoding: "raw")  // grid 4 x 2 x 1
        // bit 0: x0 y0 (z has 1 cell: never); bit 1: x1 only.
        #expect(scale.mortonCode(Vec3(0, 0, 0)) == 0)
        #expect(scale.mortonCode(Vec3(1, 0, 0)) == 0b001)
        #expect(scale.mortonCode(Vec3(0, 1, 0)) == 0b010)
        #expect(scale.mortonCode(Vec3(2, 0, 0)) == 0b100)
        #expect(scale.mortonCode(Vec3(3, 1, 0)) == 0b111)
    }

    @Test func locationAndFileNames() throws {
        let spec = try ShardingSpec(json: Array(#"{"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1, "hash": "identity", "minishard_bits": 2, "shard_bits": 5}"#.utf8), url: "u")
        // id 0b1_0110_11 >> 1 = 0b1_0110_1: minishard = low 2 bits 01, shard = next 5 bits 01011.
        let (shard, minishard) = spec.location(of: 0b1011011)
        #expect(minishard == 0b01 && shard == 0b1011)
        #expect(spec.shardFileName(shard) == "0b.shard")
        #expect(spec.shardIndexLength == 64)
        #expect(spec.minishardIndexEncoding == .raw && spec.dataEncoding == .raw)
        let none = try ShardingSpec(json: Array(#"{"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 0, "hash": "murmurhash3_x86_128", "minishard_bits": 0, "shard_bits": 0, "data_encoding": "gzip"}"#.utf8), url: "u")
        #expect(none.location(of: 12345) == (0, 0))
        #expect(none.shardFileName(0) == "0.shard")
        #expect(throws: SourceError.self) {
            try ShardingSpec(json: Array(#"{"@type": "other", "preshift_bits": 0, "hash": "identity", "minishard_bits": 0, "shard_bits": 0}"#.utf8), url: "u")
        }
        #expect(throws: SourceError.self) {
            try ShardingSpec(json: Array(#"{"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 0, "hash": "md5", "minishard_bits": 0, "shard_bits": 0}"#.utf8), url: "u")
        }
    }

    @Test(arguments: [("identity", 0, 1, 1), ("murmurhash3_x86_128", 1, 2, 3), ("identity", 0, 0, 0)])
    func shardedVolumeReadsLikeTheUnshardedOne(hash: String, preshift: Int, minishardBits: Int, shardBits: Int) async throws {
        let plain = TestVolume(size: Vec3(40, 30, 9), offset: Vec3(2, 3, 4), chunk: Vec3(16, 16, 4))
        let sharding = #"{"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": \#(preshift), "hash": "\#(hash)", "minishard_bits": \#(minishardBits), "shard_bits": \#(shardBits)}"#
        let store = MemoryStore(location: "memory://sharded")
        let info = plain.infoJSON.replacingOccurrences(of: #""encoding": "raw"}"#, with: #""encoding": "raw", "sharding": \#(sharding)}"#)
        store.put("info", Array(info.utf8))
        let spec = try ShardingSpec(json: Array(sharding.utf8), url: "u")
        // Write shards the way the spec describes: chunks grouped by shard and minishard.
        var shards: [UInt64: [UInt64: [(UInt64, [UInt8])]]] = [:]
        let grid = plain.geometry.gridSize
        for z in 0..<grid.z { for y in 0..<grid.y { for x in 0..<grid.x where !(x == 1 && y == 1 && z == 1) {
            let cell = Vec3(x, y, z), id = plain.geometry.mortonCode(cell)
            let (shard, minishard) = spec.location(of: id)
            shards[shard, default: [:]][minishard, default: []].append((id, plain.rawChunk(cell)))
        } } }
        for (shard, minishards) in shards {
            var data: [UInt8] = [], index = [UInt8](repeating: 0, count: spec.shardIndexLength)
            for (minishard, chunks) in minishards {
                let sorted = chunks.sorted { $0.0 < $1.0 }
                var ids: [UInt64] = [], offsets: [UInt64] = [], sizes: [UInt64] = []
                var previousID: UInt64 = 0, previousEnd = UInt64(data.count)
                for (id, bytes) in sorted {
                    ids.append(id - previousID); previousID = id
                    offsets.append(UInt64(data.count) - previousEnd)
                    sizes.append(UInt64(bytes.count))
                    data += bytes
                    previousEnd = UInt64(data.count)
                }
                // The first chunk's offset is relative to the end of the shard index.
                offsets[0] = UInt64(data.count) - sizes.reduce(0, +)
                let start = UInt64(data.count)
                for value in ids + offsets + sizes { data += littleEndian(value) }
                let end = UInt64(data.count)
                index.replaceSubrange((16 * Int(minishard))..<(16 * Int(minishard) + 16), with: littleEndian(start) + littleEndian(end))
            }
            store.put("s0/" + spec.shardFileName(shard), index + data)
        }
        let volume = try await PrecomputedVolume.open(store: store, caches: .inMemory())
        for z in 4..<13 {
            let rows = try await volume.planeRows(scale: 0, z: z, rows: 0..<30)
            var expected = plain.expectedRows(z: z, rows: 0..<30)
            if (z - 4) / 4 == 1 {  // chunk (1, 1, 1) was left out: zeros
                for y in 16..<30 { for x in 16..<32 { expected[y * 40 + x] = 0 } }
            }
            #expect(rows == expected, "z \(z)")
        }
    }

    @Test func nearbyReadsOfOneShardShareAGet() async throws {
        let file = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let store = MemoryStore(["s/0.shard": file, "s/1.shard": file])
        let batcher = ShardReadBatcher(store: store, gatherWindow: .milliseconds(200))
        // Three close ranges of one file, one far range (beyond the gap), one in another file.
        let ranges = [("s/0.shard", 100..<200), ("s/0.shard", 1_000..<5_000), ("s/0.shard", 60_000..<61_000),
                      ("s/0.shard", 250_000..<250_010), ("s/1.shard", 10..<20)]
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for (i, (name, range)) in ranges.enumerated() {
                group.addTask { (i, try await batcher.read(name, range)) }
            }
            return try await group.reduce(into: [Int: [UInt8]]()) { $0[$1.0] = $1.1 }
        }
        for (i, (_, range)) in ranges.enumerated() { #expect(results[i] == Array(file[range])) }
        #expect(store.fetchCount == 3)
    }

    @Test func aFailedMergedGetFailsEveryReaderInIt() async throws {
        let store = FaultInjectingStore(wrapping: MemoryStore()) { _ in .fail(.httpStatus(500, url: "s")) }
        let batcher = ShardReadBatcher(store: store, gatherWindow: .milliseconds(100))
        let failures = await withTaskGroup(of: Bool.self) { group in
            for range in [0..<10, 20..<30] {
                group.addTask { (try? await batcher.read("s/0.shard", range)) == nil }
            }
            return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(failures == 2)
        #expect(store.injectedCount == 1)
    }

    func littleEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
}
