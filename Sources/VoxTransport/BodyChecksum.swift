import Foundation

/// Checks a whole-object body against the checksum its server sent, where the protocol has
/// one: GCS's `x-goog-hash: crc32c=...` (and `x-amz-checksum-crc32c` from S3 when present).
/// Plain HTTP servers send none, so their bodies cannot be checked this way.
enum BodyChecksum {
    /// nil when the body matches or nothing can be checked; else why not.
    static func mismatch(_ response: HTTPResponse, to request: HTTPRequest) -> String? {
        // Only whole GETs: not a HEAD, not a range, not a body curl decoded (the checksum
        // is of the stored, encoded bytes).
        guard request.method == "GET", request.range == nil, response.status == 200, response.headers["content-encoding"] == nil,
              let expected = expectedCRC32C(response.headers)
        else { return nil }
        let actual = CRC32C.checksum(response.body)
        return actual == expected ? nil : "body of \(response.body.count) bytes has CRC32C \(actual), the server's checksum says \(expected)"
    }

    static func expectedCRC32C(_ headers: [String: String]) -> UInt32? {
        var encoded: Substring?
        if let goog = headers["x-goog-hash"] {
            // Several headers are joined with ", ": crc32c=..., md5=...
            for part in goog.split(separator: ",") {
                let item = part.drop { $0 == " " }
                if item.hasPrefix("crc32c=") { encoded = item.dropFirst("crc32c=".count) }
            }
        } else if let amz = headers["x-amz-checksum-crc32c"] {
            encoded = Substring(amz)
        }
        guard let encoded, let data = Data(base64Encoded: String(encoded.trimmingCharacters(in: .whitespaces))), data.count == 4 else { return nil }
        return data.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }  // big-endian
    }
}

/// CRC-32C (Castagnoli), as GCS and S3 compute it.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        bytes.withUnsafeBufferPointer { buffer in
            for byte in buffer { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
