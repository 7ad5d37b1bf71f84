import VoxTransport

/// A decoded non-interlaced PNG: gray, gray+alpha, RGB or RGBA at 8 or 16 bits.
public struct PNGImage: Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var bitDepth: Int
    /// Rows concatenated, samples interleaved, 16-bit samples big-endian as stored.
    public var pixels: [UInt8]

    private static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public init(decoding bytes: [UInt8]) throws(ChunkDecodeError) {
        guard bytes.count >= 8, Array(bytes[0..<8]) == Self.signature else { throw ChunkDecodeError("not a PNG") }
        var offset = 8
        var header: (width: Int, height: Int, depth: Int, colorType: Int, interlace: Int)?
        var compressed: [UInt8] = []
        func bigEndian32(_ at: Int) -> Int {
            Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        while offset + 12 <= bytes.count {
            let length = bigEndian32(offset)
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let dataStart = offset + 8
            guard length >= 0, dataStart + length + 4 <= bytes.count else { throw ChunkDecodeError("PNG chunk \(type) truncated") }
            switch type {
            case "IHDR":
                guard length == 13 else { throw ChunkDecodeError("bad IHDR") }
                header = (bigEndian32(dataStart), bigEndian32(dataStart + 4), Int(bytes[dataStart + 8]),
                          Int(bytes[dataStart + 9]), Int(bytes[dataStart + 12]))
            case "IDAT":
                compressed.append(contentsOf: bytes[dataStart..<(dataStart + length)])
            case "IEND":
                offset = bytes.count
                continue
            default:
                break
            }
            offset = dataStart + length + 4
        }
        guard let header else { throw ChunkDecodeError("PNG without IHDR") }
        guard header.interlace == 0 else { throw ChunkDecodeError("interlaced PNG is not supported") }
        guard header.depth == 8 || header.depth == 16 else { throw ChunkDecodeError("PNG bit depth \(header.depth) is not supported") }
        let channels: Int
        switch header.colorType {
        case 0: channels = 1
        case 2: channels = 3
        case 4: channels = 2
        case 6: channels = 4
        default: throw ChunkDecodeError("PNG color type \(header.colorType) is not supported")
        }
        let pixelBytes = channels * header.depth / 8
        // A chunk's image is at most a few hundred MiB; a header claiming more is damaged.
        guard header.width > 0, header.height > 0, header.width <= 1 << 24, header.height <= 1 << 24,
              case let (size, overflow) = (header.width * pixelBytes + 1).multipliedReportingOverflow(by: header.height),
              !overflow, size <= 1 << 30
        else { throw ChunkDecodeError("PNG of \(header.width)x\(header.height) pixels is too large for a chunk") }
        let rowBytes = header.width * pixelBytes
        let filtered: [UInt8]
        do { filtered = try Gzip.inflate(compressed, sizeHint: size, limit: size) } catch {
            throw ChunkDecodeError("PNG data: \(error)")
        }
        guard filtered.count == (rowBytes + 1) * header.height else {
            throw ChunkDecodeError("PNG data has \(filtered.count) bytes, expected \((rowBytes + 1) * header.height)")
        }
        self.width = header.width
        self.height = header.height
        self.channels = channels
        self.bitDepth = header.depth
        self.pixels = try Self.unfilter(filtered, rowBytes: rowBytes, rows: header.height, pixelBytes: pixelBytes)
    }

    /// Undoes the per-row filters (None, Sub, Up, Average, Paeth).
    private static func unfilter(_ data: [UInt8], rowBytes: Int, rows: Int, pixelBytes: Int) throws(ChunkDecodeError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rowBytes * rows)
        var badFilter: UInt8?
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<rows {
                    let filter = src[row * (rowBytes + 1)]
                    let input = row * (rowBytes + 1) + 1
                    let base = row * rowBytes
                    for i in 0..<rowBytes {
                        let left = i >= pixelBytes ? Int(dst[base + i - pixelBytes]) : 0
                        let up = row > 0 ? Int(dst[base - rowBytes + i]) : 0
                        let upLeft = (row > 0 && i >= pixelBytes) ? Int(dst[base - rowBytes + i - pixelBytes]) : 0
                        let predictor: Int
                        switch filter {
                        case 0: predictor = 0
                        case 1: predictor = left
                        case 2: predictor = up
                        case 3: predictor = (left + up) / 2
                        case 4:
                            let p = left + up - upLeft
                            let pa = abs(p - left), pb = abs(p - up), pc = abs(p - upLeft)
                            predictor = (pa <= pb && pa <= pc) ? left : (pb <= pc ? up : upLeft)
                        default:
                            badFilter = filter
                            return
                        }
                        dst[base + i] = UInt8(truncatingIfNeeded: Int(src[input + i]) + predictor)
                    }
                }
            }
        }
        if let badFilter { throw ChunkDecodeError("PNG filter type \(badFilter) is invalid") }
        return out
    }
}
