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
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        if range.lowerBound < header.count {
            out += header[range.lowerBound..<min(range.upperBound, header.count)]
        }
        let pixelStart = max(range.lowerBound, header.count) - header.count
        let pixelEnd = min(range.upperBound - header.count, pixelBytes)
        if pixelEnd > pixelStart { out += try await pixels(pixelStart..<pixelEnd) }
        let trailerStart = header.count + pixelBytes
        if range.upperBound > trailerStart {
            out += trailer[(max(range.lowerBound, trailerStart) - trailerStart)..<(range.upperBound - trailerStart)]
        }
        return out
    }

    private func pixels(_ range: Range<Int>) async throws -> [UInt8] {
        let (pixelStart, pixelEnd) = (range.lowerBound, range.upperBound)
        let rowBytes = rows.rowByteCount
        let firstRow = pixelStart / rowBytes, endRow = (pixelEnd + rowBytes - 1) / rowBytes
        let fetched = try await rows.rows(firstRow..<endRow)
        let skip = pixelStart - firstRow * rowBytes
        if skip == 0 && fetched.count == pixelEnd - pixelStart { return fetched }
        return Array(fetched[skip..<(skip + pixelEnd - pixelStart)])
    }
}
