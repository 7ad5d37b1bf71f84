import VoxCache
import VoxSources
import VoxViews

/// `P/` of an image layer: `info`, one directory per scale, and for segmentations what the
/// info names besides (`meshes/`, `skeletons/`, `segment_properties.json`).
public struct ImageLayerDirectory: VirtualDirectory {
    private let infoFile: StaticFileView
    private let scales: [(String, ScaleDirectory)]
    private let extras: [(String, VirtualNode)]

    public init(
        path: String, volume: any VolumeSource, infoJSON: [UInt8], bandCache: MemoryCache<[UInt8]>, cutouts: CutoutSettings? = nil,
        extras: [(String, VirtualNode)] = []
    ) {
        self.infoFile = StaticFileView(infoJSON)
        self.extras = extras
        var used: Set<String> = Set(["info"] + extras.map(\.0))
        var scales: [(String, ScaleDirectory)] = []
        for (index, geometry) in volume.scales.enumerated() {
            var name = Self.directoryName(geometry)
            while used.contains(name) { name += "_" + String(index) }
            used.insert(name)
            scales.append((name, ScaleDirectory(path: path + "/" + name, volume: volume, scale: index, bandCache: bandCache, cutouts: cutouts)))
        }
        self.scales = scales
    }

    /// The scale key when it is a plain name; otherwise the resolution, e.g. `8_8_40`.
    public static func directoryName(_ scale: ScaleGeometry) -> String {
        let key = scale.key
        if !key.contains("/"), key != ".", key != "..", !key.isEmpty { return key }
        return scale.resolution.map { $0 == $0.rounded() ? String(Int($0)) : String($0) }.joined(separator: "_")
    }

    public func entryNames() -> [String] { ["info"] + scales.map(\.0) + extras.map(\.0) }

    public func child(named name: String) -> VirtualNode? {
        if name == "info" { return .file(infoFile) }
        if let extra = extras.first(where: { $0.0 == name }) { return extra.1 }
        return scales.first { $0.0 == name }.map { .directory($0.1) }
    }
}
