/// A fixed header followed by raw rows: NPY and uncompressed TIFF, where every byte range
/// maps straight to rows.
public struct RasterFileView: FileView {
    public let header: [UInt8]
    public let rows: any RowSource

    public init(header: [UInt8], rows: any RowSource) {
        self.header = header
        self.rows = rows
    }

    public var size: Int { header.count + rows.rowCount * rows.rowByteCount }

    public func read(offset: Int, count: Int) async throws -> [UInt8] {
        let range = clampedRange(offset: offset, count: count, size: size)
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        if range.lowerBound < header.count {
            out += header[range.lowerBound..<min(range.upperBound, header.count)]
        }
        let pixelStart = max(range.lowerBound, header.count) - header.count
        let pixelEnd = range.upperBound - header.count
        guard pixelEnd > pixelStart else { return out }
        let rowBytes = rows.rowByteCount
        let firstRow = pixelStart / rowBytes, endRow = (pixelEnd + rowBytes - 1) / rowBytes
        let fetched = try await rows.rows(firstRow..<endRow)
        let skip = pixelStart - firstRow * rowBytes
        out += fetched[skip..<(skip + pixelEnd - pixelStart)]
        return out
    }
}
