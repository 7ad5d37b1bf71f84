import CZlib

/// gzip/zlib decompression, for `.gz` files on disk and compressed bodies curl did not decode.
public enum Gzip {
    /// Inflates a gzip or zlib stream (detected from its header); more than `limit` bytes of
    /// output is an error (a stream that would inflate without bound).
    public static func inflate(_ input: [UInt8], sizeHint: Int = 0, limit: Int = .max) throws(GzipError) -> [UInt8] {
        var stream = z_stream()
        // 32 + 15: accept both zlib and gzip headers, with the largest window.
        guard voxfs_inflate_init(&stream, 32 + 15) == Z_OK else { throw GzipError("inflateInit failed") }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: max(sizeHint, input.count * 4, 1024))
        var produced = 0
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { (inBuf) throws(GzipError) in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            while status != Z_STREAM_END {
                if produced == output.count {
                    // Room for one byte past the limit: the stream may end exactly on it.
                    guard produced <= limit else { throw GzipError("inflates to more than \(limit) bytes") }
                    output.append(contentsOf: repeatElement(0, count: min(output.count, limit + 1 - produced)))
                }
                status = output.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress! + produced
                    stream.avail_out = UInt32(outBuf.count - produced)
                    let rc = CZlib.inflate(&stream, Z_NO_FLUSH)
                    produced = outBuf.count - Int(stream.avail_out)
                    return rc
                }
                if status == Z_STREAM_END { break }
                if status == Z_BUF_ERROR && stream.avail_in == 0 { throw GzipError("truncated stream") }
                if status != Z_OK && status != Z_BUF_ERROR { throw GzipError("inflate error \(status)") }
            }
        }
        guard produced <= limit else { throw GzipError("inflates to more than \(limit) bytes") }
        output.removeSubrange(produced...)
        return output
    }
}

public struct GzipError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
