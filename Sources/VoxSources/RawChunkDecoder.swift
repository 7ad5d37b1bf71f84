/// `raw`: the voxels as stored, checked for length.
public struct RawChunkDecoder: ChunkDecoder {
    public init() {}

    public func decode(_ bytes: [UInt8], layout: ChunkLayout) throws -> [UInt8] {
        guard bytes.count == layout.decodedByteCount else {
            throw ChunkDecodeError("raw chunk has \(bytes.count) bytes, expected \(layout.decodedByteCount) for shape \(layout.shape)")
        }
        return bytes
    }
}
