// A precomputed `info`: PrecomputedInfo(json:url:), then what mounting it computes from the
// fields the parser accepted: the volume (decoder and sharding spec per scale), each scale's
// directory (slice headers for PNG, TIFF and NPY) and the sizes of a slice and of volume.npy.
// A valid-looking info must not crash the daemon at mount or on the first lookup.
import FuzzSupport
import VoxCache
import VoxNamespace
import VoxSources
import VoxTransport
import VoxViews

let store = MemoryStore(location: "fuzz://")
let caches = SourceCaches.inMemory()
let bandCache = MemoryCache<[UInt8]>(capacity: 1 << 20)
let cutouts = CutoutSettings(maxBytes: 1 << 30, source: "fuzz://", scratchDirectory: "/tmp")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let parsed = Result { () throws(SourceError) in try PrecomputedInfo(json: input.bytes, url: "fuzz://info") }
    note("\(parsed.map { "\($0.dataType) x\($0.channelCount), scales \($0.scales.map(\.geometry.size))" })")
    guard case let .success(info) = parsed else { return 0 }
    precondition(!info.scales.isEmpty && info.channelCount >= 1)
    guard let volume = try? PrecomputedVolume(info: info, version: "fuzz", store: store, caches: caches) else { return 0 }
    for scale in info.scales.indices.prefix(4) {
        let geometry = info.scales[scale].geometry
        let directory = ScaleDirectory(path: "/fuzz", volume: volume, scale: scale, bandCache: bandCache, cutouts: cutouts)
        for name in ["volume.npy", "z\(geometry.voxelOffset.z).npy", "z\(geometry.voxelOffset.z).tif", "z\(geometry.voxelOffset.z).png"] {
            if case let .file(view)? = directory.child(named: name) { consume(view.size) }
        }
    }
    return 0
}
