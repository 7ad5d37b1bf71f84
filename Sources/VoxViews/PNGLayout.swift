/// Where every byte of an exact-size PNG lies, computed from its shape alone.
///
/// The image data is a zlib stream of stored (uncompressed) deflate blocks, split into one
/// IDAT chunk per band of rows. Bands never cross a chunk-row boundary of the source, so
/// rendering a band fetches only the chunks under its rows. The zlib header opens the first
/// band's IDAT; the Adler-32 trailer has an IDAT of its own.
struct PNGLayout: Sendable {
    struct Band: Sendable {
        var rows: Range<Int>
        /// File offset of the IDAT chunk (its length field).
        var fileOffset: Int
        /// Length of the IDAT data (excluding length, type and CRC).
        var dataLength: Int
        var chunkLength: Int { dataLength + 12 }
    }

    static let maxStoredBlock = 65_535
    static let signatureAndHeaderLength = 8 + 25
    static let trailerLength = (12 + 4) + 12  // Adler-32 IDAT, then IEND

    let rowBytes: Int  // pixel bytes per row, without the filter byte
    let bands: [Band]
    let size: Int

    static let targetBandBytes = 1 << 20

    /// Rows per band: up to a chunk row, and about `targetBandBytes` of scanlines.
    private static func bandRows(rowBytes: Int, rowAlignment: Int) -> Int {
        max(1, min(rowAlignment, targetBandBytes / (rowBytes + 1)))
    }

    /// How many bands `init` would make, computed without making them.
    static func bandCount(height: Int, rowBytes: Int, rowAlignment: Int) -> Int {
        let rows = bandRows(rowBytes: rowBytes, rowAlignment: rowAlignment)
        func bands(_ chunkRowHeight: Int) -> Int { (chunkRowHeight + rows - 1) / rows }
        return height / rowAlignment * bands(rowAlignment) + bands(height % rowAlignment)
    }

    init(height: Int, rowBytes: Int, rowAlignment: Int) {
        self.rowBytes = rowBytes
        let scanline = rowBytes + 1
        let bandRows = Self.bandRows(rowBytes: rowBytes, rowAlignment: rowAlignment)
        var bands: [Band] = []
        bands.reserveCapacity(Self.bandCount(height: height, rowBytes: rowBytes, rowAlignment: rowAlignment))
        var offset = Self.signatureAndHeaderLength
        var chunkRowStart = 0
        while chunkRowStart < height {
            let chunkRowEnd = min(chunkRowStart + rowAlignment, height)
            var start = chunkRowStart
            while start < chunkRowEnd {
                let end = min(start + bandRows, chunkRowEnd)
                let raw = (end - start) * scanline
                let blocks = (raw + Self.maxStoredBlock - 1) / Self.maxStoredBlock
                let length = (bands.isEmpty ? 2 : 0) + raw + 5 * blocks
                bands.append(Band(rows: start..<end, fileOffset: offset, dataLength: length))
                offset += length + 12
                start = end
            }
            chunkRowStart = chunkRowEnd
        }
        self.bands = bands
        self.size = offset + Self.trailerLength
    }

    var trailerOffset: Int { size - Self.trailerLength }

    /// Indices of the bands whose IDAT chunks overlap `range`.
    func bands(overlapping range: Range<Int>) -> Range<Int> {
        guard !bands.isEmpty, !range.isEmpty else { return 0..<0 }
        func firstEnding(after position: Int) -> Int {
            var low = 0, high = bands.count
            while low < high {
                let mid = (low + high) / 2
                if bands[mid].fileOffset + bands[mid].chunkLength <= position { low = mid + 1 } else { high = mid }
            }
            return low
        }
        let first = firstEnding(after: range.lowerBound)
        let end = firstEnding(after: range.upperBound - 1)
        return first..<min(end + 1, bands.count)
    }
}
