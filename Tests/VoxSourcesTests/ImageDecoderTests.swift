import CZlib
import Testing
import VoxTestSupport
import VoxDemo
import VoxSources

/// PNG fixtures written by Pillow (`Image.fromarray(a).save(..., format="PNG")`).
@Suite struct PNGDecoderTests {
    @Test func grayFromPillow() throws {
        let image = try PNGImage(decoding: hex("89504e470d0a1a0a0000000d49484452000000060000000508000000004333c23a0000002549444154789c25c8310d00201004308e90d4cb8944db4b63a063b3400a76db6973c1f9f900310202fa2b9199430000000049454e44ae426082"))
        #expect(image.width == 6 && image.height == 5 && image.channels == 1 && image.bitDepth == 8)
        #expect(image.pixels == [0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 91, 98, 255, 112, 119, 126, 133, 140, 147, 154, 161, 168, 175, 182, 189, 196, 203])
    }

    @Test func rgbFromPillow() throws {
        let image = try PNGImage(decoding: hex("89504e470d0a1a0a0000000d49484452000000040000000308020000003b9639910000003049444154789c633827aa6ba377e6ee142e89903c960ba9626fccde6be764461f13603afb392db78671c7f5d0a7f94a0033da10991e3f68660000000049454e44ae426082"))
        #expect(image.channels == 3)
        #expect(image.pixels == [206, 21, 45, 60, 46, 204, 221, 148, 10, 24, 84, 110, 158, 122, 67, 40, 176, 187, 8, 28, 115, 99, 226, 131, 107, 109, 169, 149, 44, 188, 192, 243, 200, 72, 81, 165])
    }

    @Test func sixteenBitChunkBecomesLittleEndian() throws {
        // A 4x3 uint16 image as a precomputed png chunk of shape [4, 3, 1].
        let png = hex("89504e470d0a1a0a0000000d4948445200000004000000031000000000c10f2d590000001c49444154789c63606010ee5017b09ac1e2a720ac20a220ac0067000036f903bd113ca73d0000000049454e44ae426082")
        let voxels = try PNGChunkDecoder().decode(png, layout: ChunkLayout(shape: Vec3(4, 3, 1), channelCount: 1, dataType: .uint16))
        let values = stride(from: 0, to: voxels.count, by: 2).map { Int(voxels[$0]) | Int(voxels[$0 + 1]) << 8 }
        #expect(values == [0, 5000, 10000, 15000, 20000, 25000, 30000, 35000, 40000, 45000, 50000, 55000])
    }

    @Test(arguments: [UInt8(1), 2, 3, 4])
    func everyFilterType(filter: UInt8) throws {
        let width = 5, height = 4, bpp = 2  // gray + alpha
        let pixels = (0..<(width * height * bpp)).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
        let png = makePNG(width: width, height: height, colorType: 4, pixels: pixels, bpp: bpp, filter: filter)
        let image = try PNGImage(decoding: png)
        #expect(image.channels == 2)
        #expect(image.pixels == pixels)
    }

    @Test func garbageIsAnError() {
        #expect(throws: ChunkDecodeError.self) { try PNGImage(decoding: [1, 2, 3]) }
        #expect(throws: ChunkDecodeError.self) { try PNGImage(decoding: Array(hex("89504e470d0a1a0a0000000d49484452").prefix(16))) }
    }
}

@Suite struct JPEGDecoderTests {
    @Test func grayChunkRoundTripsCloseToTheOriginal() throws {
        let shape = Vec3(32, 16, 2)
        let layout = ChunkLayout(shape: shape, channelCount: 1, dataType: .uint8)
        let pixels: [UInt8] = (0..<shape.product).map { (i: Int) -> UInt8 in UInt8(100 + i % 32 + (i / 32) % 16) }
        let jpeg = try JPEGEncoder.encodeGray(pixels, width: shape.x, height: shape.y * shape.z)
        let decoded = try JPEGChunkDecoder().decode(jpeg, layout: layout)
        #expect(decoded.count == pixels.count)
        #expect(zip(decoded, pixels).allSatisfy { abs(Int($0) - Int($1)) <= 3 })
    }

    @Test func wrongShapeIsAnError() throws {
        let jpeg = try JPEGEncoder.encodeGray([UInt8](repeating: 9, count: 64), width: 8, height: 8)
        #expect(throws: ChunkDecodeError.self) {
            try JPEGChunkDecoder().decode(jpeg, layout: ChunkLayout(shape: Vec3(8, 4, 1), channelCount: 1, dataType: .uint8))
        }
        #expect(throws: ChunkDecodeError.self) {
            try JPEGChunkDecoder().decode([0xFF, 0xD8, 0, 0], layout: ChunkLayout(shape: Vec3(8, 8, 1), channelCount: 1, dataType: .uint8))
        }
    }

    @Test func rawLengthIsChecked() {
        #expect(throws: ChunkDecodeError.self) {
            try RawChunkDecoder().decode([1, 2, 3], layout: ChunkLayout(shape: Vec3(2, 2, 1), channelCount: 1, dataType: .uint8))
        }
    }

    @Test func interleavedChannelsBecomeChannelMajor() throws {
        // Two voxels, three channels: RGBRGB -> RR GG BB.
        let png = makePNG(width: 2, height: 1, colorType: 2, pixels: [1, 2, 3, 4, 5, 6], bpp: 3, filter: 0)
        let voxels = try PNGChunkDecoder().decode(png, layout: ChunkLayout(shape: Vec3(2, 1, 1), channelCount: 3, dataType: .uint8))
        #expect(voxels == [1, 4, 2, 5, 3, 6])
    }
}

/// Builds a PNG with one filter type on every row, compressed by zlib.
func makePNG(width: Int, height: Int, colorType: UInt8, pixels: [UInt8], bpp: Int, filter: UInt8) -> [UInt8] {
    let rowBytes = width * bpp
    var filtered: [UInt8] = []
    for row in 0..<height {
        filtered.append(filter)
        for i in 0..<rowBytes {
            let x = Int(pixels[row * rowBytes + i])
            let a = i >= bpp ? Int(pixels[row * rowBytes + i - bpp]) : 0
            let b = row > 0 ? Int(pixels[(row - 1) * rowBytes + i]) : 0
            let c = (row > 0 && i >= bpp) ? Int(pixels[(row - 1) * rowBytes + i - bpp]) : 0
            let predictor: Int
            switch filter {
            case 1: predictor = a
            case 2: predictor = b
            case 3: predictor = (a + b) / 2
            case 4:
                let p = a + b - c
                let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
            default: predictor = 0
            }
            filtered.append(UInt8(truncatingIfNeeded: x - predictor))
        }
    }
    var compressedLength = compressBound(uLong(filtered.count))
    var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
    _ = compress(&compressed, &compressedLength, filtered, uLong(filtered.count))
    func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        let crc = UInt32(crc32(0, typed, UInt32(typed.count)))
        return bigEndian(UInt32(data.count)) + typed + bigEndian(crc)
    }
    let header = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, colorType, 0, 0, 0]
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header)
        + chunk("IDAT", Array(compressed.prefix(Int(compressedLength)))) + chunk("IEND", [])
}

func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

@Suite struct HostilePNGTests {
    /// An IHDR claiming 2^32-1 pixels each way must be refused before anything is sized by it.
    @Test func hugeHeadersAreRefusedNotTrusted() {
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let length = UInt32(data.count)
            return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
                + Array(type.utf8) + data + [0, 0, 0, 0]
        }
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        for (width, height) in [(UInt32.max, UInt32.max), (1 << 24 + 1, 1), (40_000, 40_000)] {
            let ihdr = [UInt8(width >> 24), UInt8(width >> 16 & 0xFF), UInt8(width >> 8 & 0xFF), UInt8(width & 0xFF),
                        UInt8(height >> 24), UInt8(height >> 16 & 0xFF), UInt8(height >> 8 & 0xFF), UInt8(height & 0xFF),
                        16, 6, 0, 0, 0]
            let png = signature + chunk("IHDR", ihdr) + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00]) + chunk("IEND", [])
            #expect(throws: ChunkDecodeError.self) { try PNGImage(decoding: png) }
        }
    }
}
