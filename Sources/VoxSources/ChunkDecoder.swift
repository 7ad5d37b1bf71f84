/// What a decoder needs to know about the chunk it decodes.
public struct ChunkLayout: Sendable {
    /// The chunk's real (possibly truncated) shape.
    public var shape: Vec3
    public var channelCount: Int
    public var dataType: DataType

    public init(shape: Vec3, channelCount: Int, dataType: DataType) {
        self.shape = shape
        self.channelCount = channelCount
        self.dataType = dataType
    }

    /// Bytes of the decoded chunk: x fastest, then y, z, channel; little-endian samples.
    public var decodedByteCount: Int { shape.product * channelCount * dataType.byteWidth }
}

/// Turns a stored chunk into voxels in precomputed order [x, y, z, c], x fastest.
///
/// The seam for every chunk encoding: raw, jpeg and png here; compressed_segmentation and
/// others register beside them.
public protocol ChunkDecoder: Sendable {
    func decode(_ bytes: [UInt8], layout: ChunkLayout) throws -> [UInt8]
    /// Whether the disk cache should keep the stored bytes rather than the decoded voxels:
    /// true where decoding costs less than the disk tier's zstd round trip of the voxels
    /// and the stored form is far smaller.
    var cachesStoredBytes: Bool { get }
}

extension ChunkDecoder {
    public var cachesStoredBytes: Bool { false }
}

/// The decoders by precomputed `encoding` name.
public enum ChunkDecoders {
    public static func decoder(
        for encoding: String, dataType: DataType, channelCount: Int, blockSize: Vec3? = nil
    ) -> (any ChunkDecoder)? {
        switch encoding {
        case "raw": RawChunkDecoder()
        case "compressed_segmentation" where dataType == .uint32 || dataType == .uint64:
            CompressedSegmentationDecoder(blockSize: blockSize ?? Vec3(8, 8, 8))
        case "jpeg" where dataType == .uint8 && (channelCount == 1 || channelCount == 3): JPEGChunkDecoder()
        case "png" where (dataType == .uint8 || dataType == .uint16) && (1...4).contains(channelCount): PNGChunkDecoder()
        default: nil
        }
    }
}

/// A decoder's complaint about one chunk; the volume adds the URL.
public struct ChunkDecodeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension ChunkLayout {
    /// Reorders pixel-interleaved samples (c fastest, as images store them) into channel-major
    /// precomputed order.
    func deinterleave(_ interleaved: [UInt8]) -> [UInt8] {
        let channels = channelCount
        guard channels > 1 else { return interleaved }
        let width = dataType.byteWidth
        let voxels = shape.product
        var out = [UInt8](repeating: 0, count: interleaved.count)
        interleaved.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for voxel in 0..<voxels {
                    for channel in 0..<channels {
                        let from = (voxel * channels + channel) * width
                        let to = (channel * voxels + voxel) * width
                        for byte in 0..<width { dst[to + byte] = src[from + byte] }
                    }
                }
            }
        }
        return out
    }
}
