/// A fixed header, raw rows, and a fixed trailer: NPY, uncompressed TIFF and contiguous HDF5,
/// where every byte range maps straight to rows.
public struct RasterFileView: FileView {
    public let header: [UInt8]
    public let rows: any RowSource
    public let trailer: [UInt8]

    public init(header: [UInt8], rows: any RowSource, trailer: [UInt8] = []) {
        self.header = header
        self.rows = rows
        self.trailer = trailer
    }

    private var pixelBytes: Int { rows.rowCount * rows.rowByteCount }
    public var size: Int { header.count + pixelBytes + trailer.count }

    public func read(offset: Int, count: Int) async throws -> [UInt8] {
        let range = clampedRange(offset: offset, count: count, size: size)
        let wanted = pixelRange(range)
        return assemble(range, pixels: wanted.isEmpty ? [] : cut(try await rows.rows(rowRange(wanted)), to: wanted))
    }

    public func readIfCached(offset: Int, count: Int) -> [UInt8]? {
        let range = clampedRange(offset: offset, count: count, size: size)
        let wanted = pixelRange(range)
        if wanted.isEmpty { return assemble(range, pixels: []) }
        guard let fetched = rows.rowsIfCached(rowRange(wanted)) else { return nil }
        return assemble(range, pixels: cut(fetched, to: wanted))
    }

    /// The pixel bytes (counted from the first row) that `range` of the file covers.
    private func pixelRange(_ range: Range<Int>) -> Range<Int> {
        let start = max(range.lowerBound, header.count) - header.count
        return start..<max(start, min(range.upperBound - header.count, pixelBytes))
    }

    /// The whole rows that hold `pixels`.
    private func rowRange(_ pixels: Range<Int>) -> Range<Int> {
        let rowBytes = rows.rowByteCount
        return (pixels.lowerBound / rowBytes)..<((pixels.upperBound + rowBytes - 1) / rowBytes)
    }

    /// `pixels` out of the whole rows fetched for them.
    private func cut(_ fetched: [UInt8], to pixels: Range<Int>) -> [UInt8] {
        let skip = pixels.lowerBound - rowRange(pixels).lowerBound * rows.rowByteCount
        if skip == 0 && fetched.count == pixels.count { return fetched }
        return Array(fetched[skip..<(skip + pixels.count)])
    }

    /// Header, pixel and trailer bytes of `range`, given the pixels it covers.
    private func assemble(_ range: Range<Int>, pixels: [UInt8]) -> [UInt8] {
        // Most reads fall inside the pixels: hand those over without another copy.
        if range.lowerBound >= header.count && range.upperBound <= header.count + pixelBytes { return pixels }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        if range.lowerBound < header.count {
            out += header[range.lowerBound..<min(range.upperBound, header.count)]
        }
        out += pixels
        let trailerStart = header.count + pixelBytes
        if range.upperBound > trailerStart {
            out += trailer[(max(range.lowerBound, trailerStart) - trailerStart)..<(range.upperBound - trailerStart)]
        }
        return out
    }
}
