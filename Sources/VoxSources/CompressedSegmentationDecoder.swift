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

    /// A chunk decodes in a fraction of the time zstd takes to compress its voxels (uint64
    /// ids, a few per block), and its stored form is several times smaller than that.
    public var cachesStoredBytes: Bool { true }

    static let allowedBits: Set<UInt32> = [0, 1, 2, 4, 8, 16, 32]

    public func decode(_ bytes: [UInt8], layout: ChunkLayout) throws -> [UInt8] {
        guard layout.dataType == .uint32 || layout.dataType == .uint64 else {
            throw ChunkDecodeError("compressed_segmentation holds uint32 or uint64, not \(layout.dataType)")
        }
        guard bytes.count % 4 == 0 else { throw ChunkDecodeError("stream length \(bytes.count) is not whole 32-bit words") }
        // The blocks tile every channel, and each block writes all its voxels or the decode throws.
        var out = [UInt8].unfilled(layout.decodedByteCount)
        try bytes.withUnsafeBytes { input in
            try out.withUnsafeMutableBytes { output in
                let words = Words(raw: input)
                if layout.dataType == .uint32 {
                    try decode(words, into: output.bindMemory(to: UInt32.self), layout: layout, read: { words[$0] })
                } else {
                    try decode(words, into: output.bindMemory(to: UInt64.self), layout: layout,
                               read: { UInt64(words[$0]) | UInt64(words[$0 + 1]) << 32 })
                }
            }
        }
        return out
    }

    /// Little-endian 32-bit words over the stream, read without copying.
    struct Words {
        let raw: UnsafeRawBufferPointer
        var count: Int { raw.count / 4 }
        subscript(index: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)) }
    }

    private func decode<ID: FixedWidthInteger>(
        _ words: Words, into output: UnsafeMutableBufferPointer<ID>, layout: ChunkLayout, read: (Int) -> ID
    ) throws {
        let idWords = ID.bitWidth / 32
        let shape = layout.shape, block = blockSize
        let grid = shape.ceilDiv(block)
        let voxels = shape.product
        for channel in 0..<layout.channelCount {
            guard channel < words.count else { throw ChunkDecodeError("channel \(channel) has no offset") }
            let base = Int(words[channel])
            guard base + 2 * grid.product <= words.count else { throw ChunkDecodeError("channel \(channel): block headers past the end") }
            for bz in 0..<grid.z { for by in 0..<grid.y { for bx in 0..<grid.x {
                let header = base + 2 * (bx + grid.x * (by + grid.y * bz))
                let tableOffset = base + Int(words[header] & 0xFF_FFFF)
                let bits = words[header] >> 24
                let valuesOffset = base + Int(words[header + 1])
                guard Self.allowedBits.contains(bits) else { throw ChunkDecodeError("block encodes \(bits) bits") }
                // Table entries available: every index read must fall among them.
                let tableEntries = tableOffset < words.count ? (words.count - tableOffset) / idWords : 0
                let origin = Vec3(bx, by, bz) * block
                let end = (origin + block).min(shape)
                let channelBase = voxels * channel
                if bits == 0 {
                    guard tableEntries >= 1 else { throw ChunkDecodeError("lookup table past the end") }
                    let id = read(tableOffset)
                    for z in origin.z..<end.z { for y in origin.y..<end.y {
                        let row = channelBase + origin.x + shape.x * (y + shape.y * z)
                        for x in 0..<(end.x - origin.x) { output[row + x] = id.littleEndian }
                    } }
                    continue
                }
                // The block's packed indices span the whole (padded) block.
                let valueWords = (Int(bits) * block.product + 31) / 32
                guard valuesOffset + valueWords <= words.count else { throw ChunkDecodeError("block values past the end") }
                let mask = bits == 32 ? UInt32.max : (UInt32(1) << bits) &- 1
                let width = Int(bits)
                for z in origin.z..<end.z { for y in origin.y..<end.y {
                    let row = channelBase + origin.x + shape.x * (y + shape.y * z)
                    var position = width * block.x * ((y - origin.y) + block.y * (z - origin.z))
                    for x in 0..<(end.x - origin.x) {
                        let index = Int((words[valuesOffset + position >> 5] >> UInt32(position & 31)) & mask)
                        guard index < tableEntries else { throw ChunkDecodeError("lookup index \(index) past the end") }
                        output[row + x] = read(tableOffset + index * idWords).littleEndian
                        position += width
                    }
                } }
            } } }
        }
    }
}
