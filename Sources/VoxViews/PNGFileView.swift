import CZlib
import Synchronization
import VoxCache
import VoxSources

/// A PNG of one plane whose size depends only on shape and type.
///
/// Reading bytes inside band k renders band k alone (its rows' chunks). Band CRCs and
/// Adler-32 values are remembered, so the trailer, which covers all bands, is computed
/// from memory once every band has been read.
public final class PNGFileView: FileView {
    private let template: PNGTemplate
    private let rows: any RowSource
    private let renderedBands: MemoryCache<[UInt8]>
    private let identity: String
    private let adlers: Mutex<[Int: UInt]> = Mutex([:])

    private var layout: PNGLayout { template.layout }

    /// - Parameters:
    ///   - template: the shape-derived parts, shared by every plane of a scale.
    ///   - identity: unique name of this file, keying its rendered bands in `bandCache`.
    public init(template: PNGTemplate, rows: any RowSource, identity: String, bandCache: MemoryCache<[UInt8]>) {
        self.template = template
        self.rows = rows
        self.renderedBands = bandCache
        self.identity = identity
    }

    public var size: Int { layout.size }

    public func read(offset: Int, count: Int) async throws -> [UInt8] {
        let range = clampedRange(offset: offset, count: count, size: size)
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        func take(_ piece: [UInt8], at pieceOffset: Int) {
            let from = max(range.lowerBound, pieceOffset), to = min(range.upperBound, pieceOffset + piece.count)
            if from < to { out += piece[(from - pieceOffset)..<(to - pieceOffset)] }
        }
        take(template.header, at: 0)
        for index in layout.bands(overlapping: range) {
            take(try await band(index), at: layout.bands[index].fileOffset)
        }
        if range.upperBound > layout.trailerOffset {
            take(try await trailer(), at: layout.trailerOffset)
        }
        return out
    }

    /// The whole IDAT chunk of band `index`, rendered once and shared by concurrent readers.
    private func band(_ index: Int) async throws -> [UInt8] {
        try await renderedBands.value(for: "\(identity)#\(index)", cost: { $0.count }) { [self] in
            try await render(index)
        }
    }

    private func render(_ index: Int) async throws -> [UInt8] {
        let band = layout.bands[index]
        let pixels = try await rows.rows(band.rows)
        let rowBytes = layout.rowBytes
        var raw = [UInt8](repeating: 0, count: band.rows.count * (rowBytes + 1))
        pixels.withUnsafeBytes { src in
            raw.withUnsafeMutableBytes { dst in
                for row in 0..<band.rows.count {
                    // Filter byte 0 (None), then the row.
                    (dst.baseAddress! + row * (rowBytes + 1) + 1)
                        .copyMemory(from: src.baseAddress! + row * rowBytes, byteCount: rowBytes)
                }
            }
        }
        if template.bitDepth == 16 { Self.swapToBigEndian(&raw, rowBytes: rowBytes) }
        let adler = raw.withUnsafeBufferPointer { UInt(adler32(1, $0.baseAddress, UInt32($0.count))) }
        adlers.withLock { $0[index] = adler }

        var data: [UInt8] = []
        data.reserveCapacity(band.dataLength)
        if index == 0 { data += [0x78, 0x01] }  // zlib header: deflate, 32K window, no dictionary
        var position = 0
        while position < raw.count {
            let length = min(PNGLayout.maxStoredBlock, raw.count - position)
            let isFinal = index == layout.bands.count - 1 && position + length == raw.count
            data += [isFinal ? 1 : 0, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            data += raw[position..<(position + length)]
            position += length
        }
        precondition(data.count == band.dataLength, "PNG band length disagrees with its layout")
        return PNGChunkWriter.chunk("IDAT", data)
    }

    /// The Adler-32 IDAT and IEND. Needs every band's Adler-32: bands not read yet are rendered.
    private func trailer() async throws -> [UInt8] {
        var combined: UInt = 1
        for index in layout.bands.indices {
            var adler = adlers.withLock { $0[index] }
            if adler == nil {
                _ = try await render(index)
                adler = adlers.withLock { $0[index] }
            }
            let length = layout.bands[index].rows.count * (layout.rowBytes + 1)
            combined = UInt(adler32_combine(uLong(combined), uLong(adler!), off_t(length)))
        }
        let value = UInt32(truncatingIfNeeded: combined)
        let checksum: [UInt8] = [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        return PNGChunkWriter.chunk("IDAT", checksum) + PNGChunkWriter.chunk("IEND", [])
    }

    private static func swapToBigEndian(_ raw: inout [UInt8], rowBytes: Int) {
        raw.withUnsafeMutableBufferPointer { buffer in
            var rowStart = 0
            while rowStart < buffer.count {
                var i = rowStart + 1
                while i + 1 <= rowStart + rowBytes {
                    buffer.swapAt(i, i + 1)
                    i += 2
                }
                rowStart += rowBytes + 1
            }
        }
    }
}

/// Big-endian PNG chunk assembly.
struct PNGChunkWriter {
    var bytes: [UInt8] = []

    mutating func u32(_ v: UInt32) {
        bytes += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    /// Length, type, data and CRC-32 over type and data.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        var out = PNGChunkWriter()
        out.u32(UInt32(data.count))
        let typed = Array(type.utf8) + data
        out.bytes += typed
        let crc = typed.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        out.u32(crc)
        return out.bytes
    }
}
