import CHDF5
import VoxTransport

/// One stage of a chunked dataset's filter pipeline, undone in Swift so that decompression
/// runs outside libhdf5's lock and in parallel.
enum HDF5Filter: Sendable, Equatable {
    case deflate
    /// Bytes of each element grouped by significance; the parameter is the element size.
    case shuffle(elementSize: Int)
    case fletcher32

    init?(id: Int32, parameter: UInt32, elementSize: Int) {
        switch id {
        case voxfs_h5_filter_deflate(): self = .deflate
        case voxfs_h5_filter_shuffle(): self = .shuffle(elementSize: parameter > 0 ? Int(parameter) : elementSize)
        case voxfs_h5_filter_fletcher32(): self = .fletcher32
        default: return nil
        }
    }

    /// The filter names libhdf5 uses, for the message about one voxfs cannot undo.
    static func name(of id: Int32) -> String {
        switch id {
        case 4: "szip"
        case 5: "nbit"
        case 6: "scaleoffset"
        case 32000: "lzf"
        case 32001: "blosc"
        case 32004: "lz4"
        case 32008: "bitshuffle"
        case 32015: "zstd"
        default: "filter \(id)"
        }
    }

    /// Undoes `pipeline` on a stored chunk, last filter first; filters whose bit is set in
    /// `skipped` were not applied to this chunk. The result must be `expected` bytes.
    static func decode(_ stored: [UInt8], pipeline: [HDF5Filter], skipped: UInt32, expected: Int) throws(ChunkDecodeError) -> [UInt8] {
        var bytes = stored
        for (index, filter) in pipeline.enumerated().reversed() where skipped & (1 << UInt32(index)) == 0 {
            switch filter {
            case .deflate:
                do { bytes = try Gzip.inflate(bytes, sizeHint: expected, limit: expected) } catch {
                    throw ChunkDecodeError("deflate: \(error)")
                }
            case let .shuffle(size): bytes = unshuffle(bytes, elementSize: size)
            case .fletcher32: bytes = try checkFletcher32(bytes)
            }
        }
        guard bytes.count == expected else {
            throw ChunkDecodeError("chunk decodes to \(bytes.count) bytes, expected \(expected)")
        }
        return bytes
    }

    /// HDF5's shuffle stores byte 0 of every element, then byte 1, ...; a tail shorter than
    /// one element is left as it is.
    static func unshuffle(_ bytes: [UInt8], elementSize: Int) -> [UInt8] {
        guard elementSize > 1 else { return bytes }
        let count = bytes.count / elementSize
        var out = bytes
        bytes.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for byte in 0..<elementSize {
                    let plane = byte * count
                    for element in 0..<count { target[element * elementSize + byte] = source[plane + element] }
                }
            }
        }
        return out
    }

    /// Checks and strips the trailing checksum (little-endian; libhdf5 also accepts it
    /// byte-swapped, as versions before 1.6.3 wrote it).
    static func checkFletcher32(_ bytes: [UInt8]) throws(ChunkDecodeError) -> [UInt8] {
        guard bytes.count >= 4 else { throw ChunkDecodeError("fletcher32: chunk shorter than its checksum") }
        let data = bytes.prefix(bytes.count - 4)
        let stored = bytes.suffix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let computed = fletcher32(data)
        guard stored == computed || stored == computed.byteSwapped else {
            throw ChunkDecodeError("fletcher32 checksum mismatch")
        }
        return Array(data)
    }

    /// HDF5's Fletcher-32 over big-endian 16-bit words (an odd last byte is the high half).
    static func fletcher32(_ data: ArraySlice<UInt8>) -> UInt32 {
        var sum1: UInt32 = 0, sum2: UInt32 = 0
        data.withUnsafeBufferPointer { buffer in
            var index = 0
            var words = buffer.count / 2
            while words > 0 {
                let block = min(words, 360)
                words -= block
                for _ in 0..<block {
                    sum1 += UInt32(buffer[index]) << 8 | UInt32(buffer[index + 1])
                    index += 2
                    sum2 += sum1
                }
                sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
                sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
            }
            if buffer.count % 2 == 1 {
                sum1 += UInt32(buffer[index]) << 8
                sum2 += sum1
                sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
                sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
            }
        }
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
        return sum2 << 16 | sum1
    }
}
