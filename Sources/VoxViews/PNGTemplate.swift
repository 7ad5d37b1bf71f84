import VoxSources

/// What every PNG plane of one scale shares: signature, IHDR and the byte layout.
public final class PNGTemplate: Sendable {
    public enum ColorType: UInt8, Sendable {
        case gray = 0, rgb = 2, rgba = 6
    }

    let layout: PNGLayout
    let header: [UInt8]
    let bitDepth: Int

    /// The PNG form of (Y, X, C) planes, or nil when the type has no exact PNG form.
    public static func colorType(dataType: DataType, channels: Int) -> (ColorType, bitDepth: Int)? {
        switch (dataType, channels) {
        case (.uint8, 1): (.gray, 8)
        case (.uint16, 1): (.gray, 16)
        case (.uint8, 3): (.rgb, 8)
        case (.uint8, 4): (.rgba, 8)
        default: nil
        }
    }

    /// Most bands a plane may have: the band table costs about 40 bytes a band, held for
    /// every scale of a mount. Real shapes stay far below (a 192k x 131k plane with 64-row
    /// chunks has 26k bands); a hostile info with 16M one-row chunk rows would take 850 MB.
    static let maxBands = 1 << 20

    /// - Parameter rowAlignment: bands never cross a multiple of this row (the chunk height).
    /// - Returns: nil when the type has no exact PNG form, or the shape would need more than
    ///   `maxBands` bands.
    public init?(width: Int, height: Int, dataType: DataType, channels: Int, rowAlignment: Int) {
        guard let (colorType, bitDepth) = Self.colorType(dataType: dataType, channels: channels) else { return nil }
        let rowBytes = width * channels * dataType.byteWidth
        guard rowAlignment > 0, PNGLayout.bandCount(height: height, rowBytes: rowBytes, rowAlignment: rowAlignment) <= Self.maxBands else {
            return nil
        }
        self.bitDepth = bitDepth
        self.layout = PNGLayout(height: height, rowBytes: rowBytes, rowAlignment: rowAlignment)
        var ihdr = PNGChunkWriter()
        ihdr.u32(UInt32(width))
        ihdr.u32(UInt32(height))
        ihdr.bytes += [UInt8(bitDepth), colorType.rawValue, 0, 0, 0]
        self.header = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + PNGChunkWriter.chunk("IHDR", ihdr.bytes)
    }

    public var fileSize: Int { layout.size }
}
