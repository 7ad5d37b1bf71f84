import VoxTransport

/// Cutout answers, as HDF5 files: a root `CUTOUT` dataset or `/<channel>/CUTOUT`, shaped
/// (Z, Y, X) in C order, which is precomputed's x-fastest order.
public struct HDF5CutoutDecoder: ChunkDecoder {
    let datasets: [String]

    public init(channel: String) {
        datasets = ["/\(channel)/CUTOUT", "/CUTOUT"]
    }

    public func decode(_ bytes: [UInt8], layout: ChunkLayout) throws -> [UInt8] {
        let array = try HDF5Array.read(file: bytes, datasets: datasets)
        try CutoutShape.check(array.shape, elementSize: array.dataType.byteWidth, layout: layout)
        return array.bytes
    }
}

/// BossDB's `application/npygz`: an `.npy` array compressed with zlib, shaped (Z, Y, X).
public struct NPYGzipDecoder: ChunkDecoder {
    public init() {}

    public func decode(_ bytes: [UInt8], layout: ChunkLayout) throws -> [UInt8] {
        let npy = try Gzip.inflate(bytes, sizeHint: layout.decodedByteCount + 256, limit: layout.decodedByteCount + (64 << 10))
        let array = try NPYArray(header: npy)
        try CutoutShape.check(array.shape, elementSize: array.itemSize, layout: layout)
        guard npy.count - array.dataOffset == layout.decodedByteCount else {
            throw ChunkDecodeError("npygz body has \(npy.count - array.dataOffset) bytes of samples, expected \(layout.decodedByteCount)")
        }
        var samples = Array(npy[array.dataOffset...])
        if array.isBigEndian { samples.reverseEachSample(width: array.itemSize) }
        return samples
    }
}

enum CutoutShape {
    /// A cutout must be exactly the chunk asked for: (Z, Y, X) or (1, Z, Y, X) of one channel.
    static func check(_ shape: [Int], elementSize: Int, layout: ChunkLayout) throws {
        let wanted = [layout.shape.z, layout.shape.y, layout.shape.x]
        guard shape == wanted || shape == [1] + wanted else {
            throw ChunkDecodeError("cutout has shape \(shape), expected \(wanted) (Z, Y, X)")
        }
        guard elementSize == layout.dataType.byteWidth else {
            throw ChunkDecodeError("cutout has \(elementSize)-byte samples, expected \(layout.dataType.rawValue)")
        }
    }
}

extension Array where Element == UInt8 {
    mutating func reverseEachSample(width: Int) {
        guard width > 1 else { return }
        var start = 0
        while start + width <= count {
            self[start..<(start + width)].reverse()
            start += width
        }
    }
}
