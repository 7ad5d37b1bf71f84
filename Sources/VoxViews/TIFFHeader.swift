import VoxSources

/// Header and IFDs of a baseline, uncompressed TIFF of one or more same-shaped images whose
/// pixel data follows it contiguously. BigTIFF only when offsets would pass 4 GiB.
public enum TIFFHeader {
    private enum FieldType: UInt16 {
        case short = 3, long = 4, rational = 5, long8 = 16
        var byteCount: Int { self == .short ? 2 : (self == .long ? 4 : 8) }
    }

    private struct Field {
        var tag: UInt16
        var type: FieldType
        var values: [UInt64]
    }

    /// Rows per strip: about 1 MiB strips, at least one row.
    static func rowsPerStrip(rowBytes: Int, height: Int) -> Int {
        max(1, min(height, (1 << 20) / max(rowBytes, 1)))
    }

    /// The header of `pages` images of the same shape whose pixels follow it, page after page:
    /// one IFD per page (a z-stack for tifffile and Fiji).
    public static func make(width: Int, height: Int, channels: Int, dataType: DataType, pages: Int = 1) -> [UInt8] {
        let rowBytes = width * channels * dataType.byteWidth
        let pageBytes = rowBytes * height
        let perStrip = rowsPerStrip(rowBytes: rowBytes, height: height)
        let strips = (height + perStrip - 1) / perStrip
        let big = pages * (pageBytes + strips * 16 + 512) + 4096 > Int(UInt32.max)
        let rgb = channels >= 3 && (dataType == .uint8 || dataType == .uint16)
        let extra = channels - (rgb ? 3 : 1)
        let offsetType: FieldType = big ? .long8 : .long

        func fields(page: Int, dataStart: Int) -> [Field] {
            let pageStart = dataStart + page * pageBytes
            let stripOffsets = (0..<strips).map { UInt64(pageStart + $0 * perStrip * rowBytes) }
            let stripCounts = (0..<strips).map { UInt64(min(perStrip, height - $0 * perStrip) * rowBytes) }
            var list = [
                Field(tag: 256, type: .long, values: [UInt64(width)]),
                Field(tag: 257, type: .long, values: [UInt64(height)]),
                Field(tag: 258, type: .short, values: Array(repeating: UInt64(dataType.byteWidth * 8), count: channels)),
                Field(tag: 259, type: .short, values: [1]),
                Field(tag: 262, type: .short, values: [rgb ? 2 : 1]),
                Field(tag: 273, type: offsetType, values: stripOffsets),
                Field(tag: 277, type: .short, values: [UInt64(channels)]),
                Field(tag: 278, type: .long, values: [UInt64(perStrip)]),
                Field(tag: 279, type: offsetType, values: stripCounts),
                Field(tag: 282, type: .rational, values: [1 << 32 | 1]),
                Field(tag: 283, type: .rational, values: [1 << 32 | 1]),
                Field(tag: 284, type: .short, values: [1]),
                Field(tag: 296, type: .short, values: [1]),
            ]
            if extra > 0 { list.append(Field(tag: 338, type: .short, values: Array(repeating: 0, count: extra))) }
            list.append(Field(tag: 339, type: .short, values: Array(repeating: UInt64(dataType.tiffSampleFormat), count: channels)))
            return list
        }

        // Lay out once to learn the header length, then again with the real data offset.
        let headerLength = encode((0..<pages).map { fields(page: $0, dataStart: 0) }, big: big).count
        return encode((0..<pages).map { fields(page: $0, dataStart: headerLength) }, big: big)
    }

    /// The file header, then each IFD followed by its values that do not fit inline, chained.
    private static func encode(_ directories: [[Field]], big: Bool) -> [UInt8] {
        var out = ByteWriter()
        let inlineBytes = big ? 8 : 4
        let entryBytes = big ? 20 : 12
        let headerBytes = big ? 16 : 8
        if big {
            out.bytes += [0x49, 0x49]; out.u16(43); out.u16(8); out.u16(0); out.u64(UInt64(headerBytes))
        } else {
            out.bytes += [0x49, 0x49]; out.u16(42); out.u32(UInt32(headerBytes))
        }
        for (number, fields) in directories.enumerated() {
            let ifdStart = out.bytes.count
            let ifdBytes = (big ? 8 : 2) + fields.count * entryBytes + (big ? 8 : 4)
            var overflow = ByteWriter()
            let overflowStart = ifdStart + ifdBytes
            if big { out.u64(UInt64(fields.count)) } else { out.u16(UInt16(fields.count)) }
            for field in fields {
                var value = ByteWriter()
                for v in field.values {
                    switch field.type {
                    case .short: value.u16(UInt16(v))
                    case .long: value.u32(UInt32(v))
                    case .rational: value.u32(UInt32(v & 0xFFFF_FFFF)); value.u32(UInt32(v >> 32))
                    case .long8: value.u64(v)
                    }
                }
                out.u16(field.tag)
                out.u16(field.type.rawValue)
                if big { out.u64(UInt64(field.values.count)) } else { out.u32(UInt32(field.values.count)) }
                if value.bytes.count <= inlineBytes {
                    out.bytes += value.bytes + Array(repeating: 0, count: inlineBytes - value.bytes.count)
                } else {
                    let at = overflowStart + overflow.bytes.count
                    if big { out.u64(UInt64(at)) } else { out.u32(UInt32(at)) }
                    overflow.bytes += value.bytes
                    if overflow.bytes.count % 2 == 1 { overflow.bytes.append(0) }  // word alignment
                }
            }
            let next = number + 1 < directories.count ? overflowStart + overflow.bytes.count : 0
            if big { out.u64(UInt64(next)) } else { out.u32(UInt32(next)) }
            out.bytes += overflow.bytes
        }
        // Pixel data on a 16-byte boundary.
        out.bytes += Array(repeating: 0, count: (16 - out.bytes.count % 16) % 16)
        return out.bytes
    }
}

/// Little-endian byte appends.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
    mutating func u64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8((v >> (8 * UInt64(i))) & 0xFF)) } }
}
