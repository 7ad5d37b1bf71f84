import CDeflate
import CZstd

/// What a disk cache entry holds: bytes, or the fact that the object does not exist (404).
public enum DiskEntry: Sendable, Equatable {
    case bytes([UInt8])
    case missing
}

/// The on-disk form of an entry: a header naming the key, lengths and a CRC-32 of the stored
/// payload, checked on every read; then the payload, zstd-compressed or, when zstd would not
/// save a tenth (EM voxels mostly), stored as is so reading it costs a copy, not a decode.
///
/// ```
/// "VXC3" | flags u8 | 0 u8 | 0 u16 | key length u32 | stored length u64 | raw length u64 | crc32 u32 | key | payload
/// ```
enum DiskEntryCodec {
    static let magic = Array("VXC3".utf8)
    static let fixedHeaderLength = 4 + 4 + 4 + 8 + 8 + 4
    static let missingFlag: UInt8 = 1
    static let uncompressedFlag: UInt8 = 2
    /// No chunk or block comes near this; a larger stated size means a damaged header.
    static let maximumRawLength = 1 << 32
    /// Compressing this much first tells whether the whole is worth compressing.
    static let sampleLength = 64 << 10

    struct Corrupt: Error, CustomStringConvertible {
        let description: String
    }

    static func encode(key: String, entry: DiskEntry, level: Int32 = 1) -> [UInt8] {
        let (head, payload) = encodeParts(key: key, entry: entry, level: level)
        return head + payload
    }

    /// The header with the key, and the payload: written one after the other, so a large
    /// stored-as-is payload is never copied.
    static func encodeParts(key: String, entry: DiskEntry, level: Int32 = 1) -> (head: [UInt8], payload: [UInt8]) {
        let keyBytes = Array(key.utf8)
        var payload: [UInt8] = []
        var raw = 0
        var flags: UInt8 = 0
        switch entry {
        case .missing:
            flags = missingFlag
        case let .bytes(bytes):
            raw = bytes.count
            if let compressed = compressIfWorthIt(bytes, level: level) {
                payload = compressed
            } else {
                payload = bytes
                flags = uncompressedFlag
            }
        }
        var head: [UInt8] = []
        head.reserveCapacity(fixedHeaderLength + keyBytes.count)
        head += magic
        head += [flags, 0, 0, 0]
        append(&head, UInt64(keyBytes.count), bytes: 4)
        append(&head, UInt64(payload.count), bytes: 8)
        append(&head, UInt64(raw), bytes: 8)
        append(&head, UInt64(crc(payload[...])), bytes: 4)
        head += keyBytes
        return (head, payload)
    }

    /// The fixed header of a stored entry.
    struct Header {
        var flags: UInt8
        var keyLength: Int
        var storedLength: Int
        var rawLength: Int
        var checksum: UInt32

        /// Bytes before the payload: the fixed header and the key.
        var payloadOffset: Int { fixedHeaderLength + keyLength }
    }

    static func header(_ bytes: [UInt8]) throws(Corrupt) -> Header {
        guard bytes.count >= fixedHeaderLength, Array(bytes[0..<4]) == magic else { throw Corrupt(description: "bad header") }
        let flags = bytes[4]
        guard flags & ~(missingFlag | uncompressedFlag) == 0, bytes[5] == 0, bytes[6] == 0, bytes[7] == 0 else {
            throw Corrupt(description: "unknown flags")
        }
        let header = Header(
            flags: flags, keyLength: Int(read(bytes, at: 8, bytes: 4)), storedLength: Int(read(bytes, at: 12, bytes: 8)),
            rawLength: Int(read(bytes, at: 20, bytes: 8)), checksum: UInt32(read(bytes, at: 28, bytes: 4)))
        guard header.keyLength <= 1 << 16, header.storedLength <= maximumRawLength, header.rawLength <= maximumRawLength else {
            throw Corrupt(description: "length out of range")
        }
        return header
    }

    /// Decodes and verifies a whole stored entry; throws on any mismatch, including a different key.
    static func decode(_ file: [UInt8], expectedKey: String) throws(Corrupt) -> DiskEntry {
        let header = try header(file)
        guard file.count >= header.payloadOffset else { throw Corrupt(description: "length mismatch") }
        return try decode(header: header, prefix: file, payload: Array(file[header.payloadOffset...]), expectedKey: expectedKey)
    }

    /// Verifies and decodes a payload read apart from its header (`prefix` holds the header
    /// and key). An uncompressed payload is returned as is: no copy.
    static func decode(header: Header, prefix: [UInt8], payload: [UInt8], expectedKey: String) throws(Corrupt) -> DiskEntry {
        guard payload.count == header.storedLength else { throw Corrupt(description: "length mismatch") }
        guard prefix.count >= header.payloadOffset,
              prefix[fixedHeaderLength..<header.payloadOffset].elementsEqual(expectedKey.utf8) else {
            throw Corrupt(description: "entry belongs to another key")
        }
        guard crc(payload[...]) == header.checksum else { throw Corrupt(description: "checksum mismatch") }
        if header.flags & missingFlag != 0 {
            guard header.flags == missingFlag, header.storedLength == 0, header.rawLength == 0 else {
                throw Corrupt(description: "missing marker with a payload")
            }
            return .missing
        }
        if header.flags & uncompressedFlag != 0 {
            guard header.storedLength == header.rawLength else { throw Corrupt(description: "length mismatch") }
            return .bytes(payload)
        }
        // Trust no length from the file before allocating: the zstd frame states its own size.
        let frameSize = payload.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        guard frameSize == UInt64(header.rawLength) else { throw Corrupt(description: "content size mismatch") }
        // Not zero-filled first: on success zstd has written exactly rawLength bytes.
        var produced = 0
        let raw = [UInt8](unsafeUninitializedCapacity: header.rawLength) { dst, initialized in
            produced = payload.withUnsafeBytes { src in ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, src.count) }
            initialized = dst.count
        }
        guard ZSTD_isError(produced) == 0, produced == header.rawLength else { throw Corrupt(description: "zstd payload does not decode") }
        return .bytes(raw)
    }

    /// The zstd form, or nil when a sample shows it would save less than a tenth.
    private static func compressIfWorthIt(_ bytes: [UInt8], level: Int32) -> [UInt8]? {
        func compress(_ input: ArraySlice<UInt8>) -> [UInt8] {
            var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
            let written = input.withUnsafeBytes { src in
                output.withUnsafeMutableBytes { dst in ZSTD_compress(dst.baseAddress, dst.count, src.baseAddress, src.count, level) }
            }
            precondition(ZSTD_isError(written) == 0, "zstd compression cannot fail with a bound-sized buffer")
            output.removeSubrange(written...)
            return output
        }
        if bytes.count > sampleLength {
            let sample = compress(bytes[0..<sampleLength])
            if sample.count * 10 > sampleLength * 9 { return nil }
        }
        let compressed = compress(bytes[...])
        return compressed.count * 10 > bytes.count * 9 ? nil : compressed
    }

    private static func crc(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.withUnsafeBytes { libdeflate_crc32(0, $0.baseAddress, $0.count) }
    }

    private static func append(_ out: inout [UInt8], _ value: UInt64, bytes: Int) {
        for i in 0..<bytes { out.append(UInt8((value >> (8 * UInt64(i))) & 0xFF)) }
    }

    private static func read(_ bytes: [UInt8], at offset: Int, bytes count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }
}
