import CDeflate
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
    /// Bands rendered ahead of a sequential reader.
    static let renderAhead = 2
    /// The last band a read touched, to spot a sequential reader and render ahead of it.
    private let lastBand = Atomic<Int>(-1)

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
        renderAheadIfSequential(clampedRange(offset: offset, count: count, size: size))
        return try await assemble(offset: offset, count: count, band: { try await self.band($0) }, trailer: { try await self.trailer() })
    }

    /// A reader moving forward band by band gets the next band rendered while it receives
    /// this one, so fetching, decoding and encoding overlap the transfer.
    private func renderAheadIfSequential(_ range: Range<Int>) {
        let bands = layout.bands(overlapping: range)
        guard let first = bands.first, let last = bands.last else { return }
        let previous = lastBand.exchange(last, ordering: .relaxed)
        guard previous == first || previous == first - 1 else { return }
        for next in (last + 1)..<min(last + 1 + Self.renderAhead, layout.bands.count)
        where renderedBands.cached(bandKey(next)) == nil {
            Task { _ = try? await self.band(next) }
        }
    }

    public func readIfCached(offset: Int, count: Int) -> [UInt8]? {
        // Bands rendered already or whose rows are in memory, and no trailer (it may need every
        // band). A band being rendered is waited for by the read that follows, not rendered twice.
        let range = clampedRange(offset: offset, count: count, size: size)
        guard range.upperBound <= layout.trailerOffset else { return nil }
        var bands: [Int: [UInt8]] = [:]
        for index in layout.bands(overlapping: range) {
            if let band = renderedBands.cached(bandKey(index)) {
                bands[index] = band
                continue
            }
            guard !renderedBands.isCachedOrLoading(bandKey(index)),
                  let pixels = rows.rowsIfCached(layout.bands[index].rows)
            else { return nil }
            let band = encode(index, pixels: pixels)
            renderedBands.insert(bandKey(index), band, cost: band.count)
            bands[index] = band
        }
        // Noted only when answered here: a miss is noted once, by `read`.
        renderAheadIfSequential(range)
        return assembleNow(range, bands: bands)
    }

    /// Header, bands and trailer pieces that overlap [offset, offset + count).
    private func assemble(
        offset: Int, count: Int, band: (Int) async throws -> [UInt8], trailer: () async throws -> [UInt8]
    ) async throws -> [UInt8] {
        let range = clampedRange(offset: offset, count: count, size: size)
        var bands: [Int: [UInt8]] = [:]
        for index in layout.bands(overlapping: range) { bands[index] = try await band(index) }
        var out = assembleNow(range, bands: bands)
        if range.upperBound > layout.trailerOffset {
            let piece = try await trailer()
            let from = max(range.lowerBound, layout.trailerOffset)
            out += piece[(from - layout.trailerOffset)..<(range.upperBound - layout.trailerOffset)]
        }
        return out
    }

    /// The header and band pieces of `range` (everything before the trailer).
    private func assembleNow(_ range: Range<Int>, bands: [Int: [UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        func take(_ piece: [UInt8], at pieceOffset: Int) {
            let from = max(range.lowerBound, pieceOffset), to = min(range.upperBound, pieceOffset + piece.count)
            if from < to { out += piece[(from - pieceOffset)..<(to - pieceOffset)] }
        }
        take(template.header, at: 0)
        for index in bands.keys.sorted() { take(bands[index]!, at: layout.bands[index].fileOffset) }
        return out
    }

    private func bandKey(_ index: Int) -> String { "\(identity)#\(index)" }

    /// The whole IDAT chunk of band `index`, rendered once and shared by concurrent readers.
    private func band(_ index: Int) async throws -> [UInt8] {
        try await renderedBands.value(for: bandKey(index), cost: { $0.count }) { [self] in
            try await render(index)
        }
    }

    private func render(_ index: Int) async throws -> [UInt8] {
        encode(index, pixels: try await rows.rows(layout.bands[index].rows))
    }

    /// Builds band `index`'s whole IDAT chunk in one buffer from its pixel rows: length, type,
    /// (zlib header), stored blocks of filter byte + row, CRC. Pixel rows are copied once.
    private func encode(_ index: Int, pixels: consuming [UInt8]) -> [UInt8] {
        let band = layout.bands[index]
        if template.bitDepth == 16 { Self.swapPairs(&pixels) }  // PNG samples are big-endian
        let rowBytes = layout.rowBytes, scanline = rowBytes + 1
        let rawLength = band.rows.count * scanline
        let isLastBand = index == layout.bands.count - 1
        var adler: UInt32 = 1
        let chunk = [UInt8](unsafeUninitializedCapacity: band.chunkLength) { buffer, count in
            let out = UnsafeMutableRawBufferPointer(buffer)
            out.storeBytes(of: UInt32(band.dataLength).bigEndian, toByteOffset: 0, as: UInt32.self)
            for (offset, byte) in "IDAT".utf8.enumerated() { out[4 + offset] = byte }
            var at = 8
            if index == 0 {
                out[at] = 0x78; out[at + 1] = 0x01  // zlib header: deflate, 32K window, no dictionary
                at += 2
            }
            // Scanlines (filter byte 0, then the row) laid out as the blocks' payload, block by block.
            var position = 0
            pixels.withUnsafeBytes { source in
                while position < rawLength {
                    let length = min(PNGLayout.maxStoredBlock, rawLength - position)
                    let isFinal = isLastBand && position + length == rawLength
                    out[at] = isFinal ? 1 : 0
                    out[at + 1] = UInt8(length & 0xFF); out[at + 2] = UInt8(length >> 8)
                    out[at + 3] = UInt8(~length & 0xFF); out[at + 4] = UInt8((~length >> 8) & 0xFF)
                    at += 5
                    let blockStart = at
                    var p = position
                    while p < position + length {
                        let row = p / scanline, column = p % scanline
                        let take = min(scanline - column, position + length - p)
                        if column == 0 {
                            out[at] = 0
                            if take > 1 { out.baseAddress!.advanced(by: at + 1).copyMemory(from: source.baseAddress!.advanced(by: row * rowBytes), byteCount: take - 1) }
                        } else {
                            out.baseAddress!.advanced(by: at).copyMemory(from: source.baseAddress!.advanced(by: row * rowBytes + column - 1), byteCount: take)
                        }
                        at += take
                        p += take
                    }
                    adler = libdeflate_adler32(adler, out.baseAddress!.advanced(by: blockStart), at - blockStart)
                    position += length
                }
            }
            precondition(at == 8 + band.dataLength, "PNG band length disagrees with its layout")
            let crc = libdeflate_crc32(0, out.baseAddress!.advanced(by: 4), at - 4)
            out.storeBytes(of: crc.bigEndian, toByteOffset: at, as: UInt32.self)
            count = at + 4
        }
        adlers.withLock { $0[index] = UInt(adler) }
        return chunk
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

    private static func swapPairs(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBufferPointer { buffer in
            var i = 0
            while i + 1 < buffer.count {
                buffer.swapAt(i, i + 1)
                i += 2
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
        let crc = typed.withUnsafeBufferPointer { libdeflate_crc32(0, $0.baseAddress, $0.count) }
        out.u32(crc)
        return out.bytes
    }
}
