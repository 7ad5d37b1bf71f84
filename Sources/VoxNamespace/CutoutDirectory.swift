import Glibc
import VoxSources
import VoxTransport
import VoxViews

/// What every cutout directory of a mount needs to know.
public struct CutoutSettings: Sendable {
    /// Boxes whose array is larger are refused with EFBIG.
    public var maxBytes: Int
    /// The source URL, written into `.h5` cutouts.
    public var source: String
    /// Where libhdf5 writes (and voxfs removes at once) the sparse file an `.h5` header comes from.
    public var scratchDirectory: String

    public init(maxBytes: Int, source: String, scratchDirectory: String) {
        self.maxBytes = maxBytes
        self.source = source
        self.scratchDirectory = scratchDirectory
    }
}

/// `P/<scale>/cutout/`: `<x0>-<x1>_<y0>-<y1>_<z0>-<z1>.h5|.npy|.tif`, any box of the scale in
/// absolute voxels (end exclusive), made on lookup and never listed.
struct CutoutDirectory: VirtualDirectory {
    enum Format: String, CaseIterable {
        case h5, npy, tif
    }

    static let maxTIFFPages = 65_536

    let path: String
    let volume: any VolumeSource
    let scale: Int
    let settings: CutoutSettings

    func entryNames() -> [String] { [] }

    func child(named name: String) -> VirtualNode? {
        switch resolve(name) {
        case let .success(node): return node
        case let .failure(refusal):
            Log.info("\(path)/\(name): \(refusal.reason)")
            return nil
        }
    }

    func refusal(for name: String) -> Int32? {
        guard case let .failure(refusal) = resolve(name, build: false), refusal.code != ENOENT else { return nil }
        return refusal.code
    }

    struct Refusal: Error {
        var code: Int32
        var reason: String
    }

    /// The file `name` stands for; `build: false` only checks the name and the box.
    private func resolve(_ name: String, build: Bool = true) -> Result<VirtualNode?, Refusal> {
        guard let dot = name.lastIndex(of: "."), let format = Format(rawValue: String(name[name.index(after: dot)...])) else {
            return .failure(Refusal(code: ENOENT, reason: "not a cutout name (<x0>-<x1>_<y0>-<y1>_<z0>-<z1>.h5, .npy or .tif)"))
        }
        guard let (begin, end) = Self.parseBox(name[..<dot]) else {
            return .failure(Refusal(code: ENOENT, reason: "not a box <x0>-<x1>_<y0>-<y1>_<z0>-<z1> (absolute voxels, end exclusive)"))
        }
        let geometry = volume.scales[scale]
        let low = geometry.voxelOffset, high = geometry.voxelOffset + geometry.size
        guard begin.x < end.x, begin.y < end.y, begin.z < end.z else {
            return .failure(Refusal(code: ENOENT, reason: "empty or inverted box"))
        }
        guard begin.x >= low.x, begin.y >= low.y, begin.z >= low.z, end.x <= high.x, end.y <= high.y, end.z <= high.z else {
            return .failure(Refusal(code: ENOENT, reason: "box outside the scale, which spans \(low.x)-\(high.x)_\(low.y)-\(high.y)_\(low.z)-\(high.z)"))
        }
        let size = end - begin
        let (voxels, overflow) = size.x.multipliedReportingOverflow(by: size.y * size.z)
        let bytes = voxels.multipliedReportingOverflow(by: volume.channelCount * volume.dataType.byteWidth)
        guard !overflow, !bytes.overflow, bytes.partialValue <= settings.maxBytes else {
            return .failure(Refusal(code: EFBIG, reason: "the box holds more than max_cutout (\(settings.maxBytes) bytes)"))
        }
        // One TIFF directory per plane: more planes than this make the header itself the problem.
        if format == .tif, size.z > Self.maxTIFFPages {
            return .failure(Refusal(code: EFBIG, reason: "a .tif cutout holds at most \(Self.maxTIFFPages) planes; use .npy or .h5"))
        }
        guard build else { return .success(nil) }
        let rows = StackRows(volume: volume, scale: scale, begin: begin - low, end: end - low)
        var shape = [size.z, size.y, size.x]
        if volume.channelCount > 1 { shape.append(volume.channelCount) }
        switch format {
        case .npy:
            return .success(.file(RasterFileView(header: NPYHeader.make(dataType: volume.dataType, shape: shape), rows: rows)))
        case .tif:
            let header = TIFFHeader.make(width: size.x, height: size.y, channels: volume.channelCount, dataType: volume.dataType, pages: size.z)
            return .success(.file(RasterFileView(header: header, rows: rows)))
        case .h5:
            do {
                let layout = try HDF5CutoutLayout(
                    shape: shape, dataType: volume.dataType, resolution: geometry.resolution, offset: begin, source: settings.source,
                    scratchDirectory: settings.scratchDirectory)
                return .success(.file(RasterFileView(header: layout.prefix, rows: rows, trailer: layout.suffix)))
            } catch {
                return .failure(Refusal(code: EIO, reason: error.description))
            }
        }
    }

    /// `x0-x1_y0-y1_z0-z1` (each number may be negative) as [begin, end).
    static func parseBox(_ text: Substring) -> (Vec3, Vec3)? {
        let axes = text.split(separator: "_", omittingEmptySubsequences: false)
        guard axes.count == 3 else { return nil }
        var bounds: [(Int, Int)] = []
        for axis in axes {
            // The separating '-' is the first one after the first number's digits.
            let body = axis.hasPrefix("-") ? axis.dropFirst() : axis
            guard let dash = body.firstIndex(of: "-") else { return nil }
            let first = axis[axis.startIndex..<dash], second = axis[axis.index(after: dash)...]
            guard let a = integer(first), let b = integer(second) else { return nil }
            bounds.append((a, b))
        }
        return (Vec3(bounds[0].0, bounds[1].0, bounds[2].0), Vec3(bounds[0].1, bounds[1].1, bounds[2].1))
    }

    private static func integer(_ text: Substring) -> Int? {
        let digits = text.hasPrefix("-") ? text.dropFirst() : text
        guard !digits.isEmpty, digits.count <= 12, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }
}
