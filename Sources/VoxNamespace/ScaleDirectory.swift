import VoxCache
import VoxSources
import VoxViews

/// `P/<scale>/`: `z<N>.png|.tif|.npy` per plane, `volume.npy`, and the `cutout/` directory.
///
/// Every plane of a scale has the same shape, so headers are built once per scale and the
/// per-file views are cheap to make on lookup.
public struct ScaleDirectory: VirtualDirectory {
    public enum SliceFormat: String, Sendable, CaseIterable {
        case png, tif, npy
    }

    private let path: String
    private let volume: any VolumeSource
    private let scale: Int
    private let bandCache: MemoryCache<[UInt8]>
    private let zRange: Range<Int>
    private let digits: Int
    private let formats: [SliceFormat]
    private let pngTemplate: PNGTemplate?
    private let tiffHeader: [UInt8]
    private let sliceNPYHeader: [UInt8]
    private let volumeNPYHeader: [UInt8]
    private let cutouts: CutoutDirectory?

    public init(path: String, volume: any VolumeSource, scale: Int, bandCache: MemoryCache<[UInt8]>, cutouts: CutoutSettings? = nil) {
        let geometry = volume.scales[scale]
        self.path = path
        self.volume = volume
        self.scale = scale
        self.bandCache = bandCache
        self.zRange = geometry.zRange
        self.digits = max(String(abs(zRange.lowerBound)).count, String(abs(zRange.upperBound - 1)).count)
        let pngTemplate = PNGTemplate(
            width: geometry.size.x, height: geometry.size.y, dataType: volume.dataType,
            channels: volume.channelCount, rowAlignment: geometry.chunkSize.y)
        self.pngTemplate = pngTemplate
        self.formats = SliceFormat.allCases.filter { $0 != .png || pngTemplate != nil }
        self.tiffHeader = TIFFHeader.make(
            width: geometry.size.x, height: geometry.size.y, channels: volume.channelCount, dataType: volume.dataType)
        self.sliceNPYHeader = NPYHeader.make(
            dataType: volume.dataType, shape: NPYHeader.shape(volume: volume, scale: scale, stack: false))
        self.volumeNPYHeader = NPYHeader.make(
            dataType: volume.dataType, shape: NPYHeader.shape(volume: volume, scale: scale, stack: true))
        self.cutouts = cutouts.map { CutoutDirectory(path: path + "/cutout", volume: volume, scale: scale, settings: $0) }
    }

    public func entryNames() -> [String] {
        var names: [String] = []
        names.reserveCapacity(zRange.count * formats.count + 1)
        for z in zRange {
            let magnitude = String(abs(z))
            let padded = (z < 0 ? "-" : "") + String(repeating: "0", count: max(0, digits - magnitude.count)) + magnitude
            for format in formats { names.append("z\(padded).\(format.rawValue)") }
        }
        names.append("volume.npy")
        if cutouts != nil { names.append("cutout") }
        return names
    }

    public func child(named name: String) -> VirtualNode? {
        if name == "cutout", let cutouts { return .directory(cutouts) }
        if name == "volume.npy" {
            return .file(RasterFileView(header: volumeNPYHeader, rows: StackRows(volume: volume, scale: scale)))
        }
        guard name.hasPrefix("z"), let dot = name.lastIndex(of: ".") else { return nil }
        let number = name[name.index(after: name.startIndex)..<dot]
        let digitsPart = number.hasPrefix("-") ? number.dropFirst() : number
        guard !digitsPart.isEmpty, digitsPart.allSatisfy({ $0.isASCII && $0.isNumber }),
              let z = Int(number), zRange.contains(z),
              let format = SliceFormat(rawValue: String(name[name.index(after: dot)...])), formats.contains(format)
        else { return nil }
        let rows = PlaneRows(volume: volume, scale: scale, z: z)
        switch format {
        case .npy: return .file(RasterFileView(header: sliceNPYHeader, rows: rows))
        case .tif: return .file(RasterFileView(header: tiffHeader, rows: rows))
        case .png:
            guard let pngTemplate else { return nil }
            return .file(PNGFileView(template: pngTemplate, rows: rows, identity: path + "/z\(z).png", bandCache: bandCache))
        }
    }
}
