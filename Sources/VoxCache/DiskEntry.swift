import CZstd

/// What a disk cache entry holds: bytes, or the fact that the object does not exist (404).
public enum DiskEntry: Sendable, Equatable {
    case bytes([UInt8])
    case missing
}

/// The on-disk form of an entry: a header naming the key and lengths, then a zstd frame that
/// carries its own content checksum (XXH64), verified by every decompression.
///
/// ```
/// "VXC2" | flags u8 | level u8 | 0 u16 | key length u32 | stored length u64 | raw length u64 | key | zstd frame
/// ```
enum DiskEntryCodec {
    static let magic = Array("VXC2".utf8)
    static let fixedHeaderLength = 4 + 4 + 4 + 8 + 8
    static let missingFlag: UInt8 = 1
    /// No chunk or block comes near this; a larger stated size means a damaged header.
    static let maximumRawLength = 1 << 32

    struct Corrupt: Error, CustomStringConvertible {
        let description: String
    }

    static func encode(key: String, entry: DiskEntry, level: Int32 = 1) -> [UInt8] {
        let keyBytes = Array(key.utf8)
        var payload: [UInt8] = []
        var raw = 0
        var flags: UInt8 = 0
        switch entry {
        case .missing:
            flags = missingFlag
        case let .bytes(bytes):
            raw = bytes.count
            payload = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
            let context = ZSTD_createCCtx()
            defer { ZSTD_freeCCtx(context) }
            ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
            ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
            let written = bytes.withUnsafeBytes { src in
                payload.withUnsafeMutableBytes { dst in
                    ZSTD_compress2(context, dst.baseAddress, dst.count, src.baseAddress, src.count)
                }
            }
            precondition(ZSTD_isError(written) == 0, "zstd compression cannot fail with a bound-sized buffer")
            payload.removeSubrange(written...)
        }
        var out: [UInt8] = []
        out.reserveCapacity(fixedHeaderLength + keyBytes.count + payload.count)
        out += magic
        out += [flags, UInt8(level), 0, 0]
        append(&out, UInt64(keyBytes.count), bytes: 4)
        append(&out, UInt64(payload.count), bytes: 8)
        append(&out, UInt64(raw), bytes: 8)
        out += keyBytes
        out += payload
        return out
    }

    /// Decodes and verifies a stored entry; throws on any mismatch, including a different key.
    static func decode(_ file: [UInt8], expectedKey: String) throws(Corrupt) -> DiskEntry {
        guard file.count >= fixedHeaderLength, Array(file[0..<4]) == magic else { throw Corrupt(description: "bad header") }
        let flags = file[4]
        guard flags & ~missingFlag == 0 else { throw Corrupt(description: "unknown flags \(flags)") }
        let keyLength = Int(read(file, at: 8, bytes: 4))
        let storedLength = Int(read(file, at: 12, bytes: 8))
        let rawLength = Int(read(file, at: 20, bytes: 8))
        let payloadStart = fixedHeaderLength + keyLength
        guard keyLength >= 0, storedLength >= 0, payloadStart + storedLength == file.count else {
            throw Corrupt(description: "length mismatch")
        }
        guard file[fixedHeaderLength..<payloadStart].elementsEqual(expectedKey.utf8) else {
            throw Corrupt(description: "entry belongs to another key")
        }
        if flags & missingFlag != 0 {
            guard storedLength == 0, rawLength == 0 else { throw Corrupt(description: "missing marker with a payload") }
            return .missing
        }
        let payload = file[payloadStart...]
        // Trust no length from the file before allocating: the zstd frame states its own size.
        let frameSize = payload.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        guard rawLength <= maximumRawLength, frameSize == UInt64(rawLength) else {
            throw Corrupt(description: "content size mismatch")
        }
        var raw = [UInt8](repeating: 0, count: rawLength)
        let produced = payload.withUnsafeBytes { src in
            raw.withUnsafeMutableBytes { dst in ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, src.count) }
        }
        // Fails on a torn or altered frame, and on a content checksum mismatch.
        guard ZSTD_isError(produced) == 0, produced == rawLength else { throw Corrupt(description: "zstd payload does not decode or fails its checksum") }
        return .bytes(raw)
    }

    private static func append(_ out: inout [UInt8], _ value: UInt64, bytes: Int) {
        for i in 0..<bytes { out.append(UInt8((value >> (8 * UInt64(i))) & 0xFF)) }
    }

    private static func read(_ bytes: [UInt8], at offset: Int, bytes count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }
}
