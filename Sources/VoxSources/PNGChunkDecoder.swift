/// `png`: one image of width X and height Y*Z, 8 or 16 bit, 1 to 4 channels.
public struct PNGChunkDecoder: ChunkDecoder {
    public init() {}

    public func decode(_ bytes: [UInt8], layout: ChunkLayout) throws -> [UInt8] {
        let image = try PNGImage(decoding: bytes)
        let shape = layout.shape
        guard image.width == shape.x, image.height == shape.y * shape.z else {
            throw ChunkDecodeError("png is \(image.width)x\(image.height), expected \(shape.x)x\(shape.y * shape.z)")
        }
        guard image.channels == layout.channelCount, image.bitDepth == layout.dataType.byteWidth * 8 else {
            throw ChunkDecodeError("png has \(image.channels) channels of \(image.bitDepth) bits, expected \(layout.channelCount) of \(layout.dataType.byteWidth * 8)")
        }
        var samples = image.pixels
        if image.bitDepth == 16 {
            // PNG samples are big-endian; volumes are little-endian.
            samples.withUnsafeMutableBufferPointer { buffer in
                var i = 0
                while i + 1 < buffer.count {
                    buffer.swapAt(i, i + 1)
                    i += 2
                }
            }
        }
        return layout.deinterleave(samples)
    }
}
