/// `compressed_segmentation`: per channel, a grid of blocks, each a lookup table of ids and
/// packed indices into it (Neuroglancer's encoding). uint32 or uint64 ids.
///
/// Every offset and index read from the stream is bounds-checked, so a malformed chunk is
/// a decode error, never a crash or a read outside the buffer.
public struct CompressedSegmentationDecoder: ChunkDecoder {
    public let blockSize: Vec3

    public init(blockSize: Vec3) {
        self.blockSize = blockSize
    }

    static let allowedBits: Set<Int> = [0, 1, 2, 4, 8, 16, 32]

    public func decode(_ bytes: [UInt8], layout: ChunkLayout) throws -> [UInt8] {
        let idWords = layout.dataType.byteWidth / 4
        guard idWords == 1 || idWords == 2, layout.dataType == .uint32 || layout.dataType == .uint64 else {
            throw ChunkDecodeError("compressed_segmentation holds uint32 or uint64, not \(layout.dataType)")
        }
        guard bytes.count % 4 == 0 else { throw ChunkDecodeError("stream length \(bytes.count) is not whole 32-bit words") }
        let words = bytes.withUnsafeBytes { raw in
            (0..<(bytes.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian }
        }
        let shape = layout.shape, block = blockSize
        let grid = shape.ceilDiv(block)
        let voxels = shape.product
        var out = [UInt8](repeating: 0, count: layout.decodedByteCount)
        try out.withUnsafeMutableBytes { output in
            for channel in 0..<layout.channelCount {
                guard channel < words.count else { throw ChunkDecodeError("channel \(channel) has no offset") }
                let base = Int(words[channel])
                let headerWords = 2 * grid.product
                guard base + headerWords <= words.count else { throw ChunkDecodeError("channel \(channel): block headers past the end") }
                for bz in 0..<grid.z { for by in 0..<grid.y { for bx in 0..<grid.x {
                    let header = base + 2 * (bx + grid.x * (by + grid.y * bz))
                    let tableOffset = base + Int(words[header] & 0xFF_FFFF)
                    let bits = Int(words[header] >> 24)
                    let valuesOffset = base + Int(words[header + 1])
                    guard Self.allowedBits.contains(bits) else { throw ChunkDecodeError("block encodes \(bits) bits") }
                    let origin = Vec3(bx, by, bz) * block
                    let end = (origin + block).min(shape)
                    // The block's packed indices span the whole (padded) block.
                    let valueWords = (bits * block.product + 31) / 32
                    guard bits == 0 || valuesOffset + valueWords <= words.count else {
                        throw ChunkDecodeError("block values past the end")
                    }
                    let mask = bits == 32 ? UInt32.max : (UInt32(1) << UInt32(bits)) &- 1
                    for z in origin.z..<end.z { for y in origin.y..<end.y { for x in origin.x..<end.x {
                        var index = 0
                        if bits > 0 {
                            let position = bits * ((x - origin.x) + block.x * ((y - origin.y) + block.y * (z - origin.z)))
                            index = Int((words[valuesOffset + position / 32] >> UInt32(position % 32)) & mask)
                        }
                        let entry = tableOffset + index * idWords
                        guard entry + idWords <= words.count else { throw ChunkDecodeError("lookup index \(index) past the end") }
                        let voxel = x + shape.x * (y + shape.y * z) + voxels * channel
                        let destination = output.baseAddress! + voxel * 4 * idWords
                        destination.storeBytes(of: words[entry].littleEndian, as: UInt32.self)
                        if idWords == 2 { (destination + 4).storeBytes(of: words[entry + 1].littleEndian, as: UInt32.self) }
                    } } }
                } } }
            }
        }
        return out
    }
}
