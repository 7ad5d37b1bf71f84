import Testing
import VoxSources

@Suite struct PrecomputedInfoTests {
    func parse(_ json: String) throws -> PrecomputedInfo {
        try PrecomputedInfo(json: Array(json.utf8), url: "http://h/layer/info")
    }

    @Test func readsEveryField() throws {
        let info = try parse("""
            {"@type": "neuroglancer_multiscale_volume", "type": "image", "data_type": "uint16", "num_channels": 2,
             "scales": [{"key": "8_8_40", "size": [100, 200, 30], "voxel_offset": [1, 2, 3], "resolution": [8, 8, 40],
                         "chunk_sizes": [[64, 64, 16], [32, 32, 32]], "encoding": "raw"},
                        {"key": "16_16_40", "size": [50, 100, 30], "resolution": [16, 16, 40],
                         "chunk_sizes": [[64, 64, 16]], "encoding": "jpeg", "compressed_segmentation_block_size": [8, 8, 8]}]}
            """)
        #expect(info.dataType == .uint16)
        #expect(info.channelCount == 2)
        #expect(info.scales.count == 2)
        let first = info.scales[0].geometry
        #expect(first.size == Vec3(100, 200, 30))
        #expect(first.voxelOffset == Vec3(1, 2, 3))
        #expect(first.chunkSize == Vec3(64, 64, 16))
        #expect(first.gridSize == Vec3(2, 4, 2))
        #expect(info.scales[1].geometry.voxelOffset == Vec3(0, 0, 0))
        #expect(info.scales[1].compressedSegmentationBlockSize == Vec3(8, 8, 8))
    }

    @Test(arguments: [
        ("[]", "not a JSON object"),
        (#"{"data_type": "uint8", "scales": []}"#, "missing 'type'"),
        (#"{"type": "image", "data_type": "uint7", "scales": []}"#, "unknown data_type 'uint7'"),
        (#"{"type": "image", "data_type": "uint8", "scales": []}"#, "missing or empty 'scales'"),
        (#"{"type": "image", "data_type": "uint8", "scales": [{"key": "a", "size": [1, 2], "chunk_sizes": [[1,1,1]], "encoding": "raw"}]}"#, "scales[0].size must be three integers"),
        (#"{"type": "image", "data_type": "uint8", "scales": [{"key": "a", "size": [1, 2, 3], "chunk_sizes": [[0,1,1]], "encoding": "raw"}]}"#, "scales[0].chunk_sizes[0] must be positive"),
        (#"{"type": "image", "data_type": "uint8", "scales": [{"key": "a", "size": [1, 2, 3], "chunk_sizes": [[1,1,1]]}]}"#, "missing scales[0].encoding"),
    ])
    func errorsNameTheFieldAndURL(json: String, message: String) {
        #expect { _ = try parse(json) } throws: { error in
            let text = "\(error)"
            return text.contains(message) && text.contains("http://h/layer/info")
        }
    }

    @Test func chunkNamesAreAbsoluteAndTruncated() {
        let scale = ScaleGeometry(key: "8_8_40", size: Vec3(100, 70, 20), voxelOffset: Vec3(10, 20, 30),
                                  chunkSize: Vec3(64, 64, 16), resolution: [8, 8, 40], encoding: "raw")
        #expect(UnshardedChunkReader.chunkKey(scale: scale, cell: Vec3(0, 0, 0)) == "8_8_40/10-74_20-84_30-46")
        #expect(UnshardedChunkReader.chunkKey(scale: scale, cell: Vec3(1, 1, 1)) == "8_8_40/74-110_84-90_46-50")
    }
}
