// Cutout file names `<x0>-<x1>_<y0>-<y1>_<z0>-<z1>.h5|.npy|.tif`: CutoutDirectory.parseBox,
// then the checks a lookup makes against the scale (CutoutDirectory.refusal(for:)) and, for
// .npy and .tif, building the file (header and exact size).
//
// Input: the scale the name is looked up in: voxel offset x, y, z and size x, y, z (six
// little-endian Int64), data type (byte mod 10), channels (byte mod 4 + 1); then the file name
// (UTF-8). The scale goes through PrecomputedInfo(json:url:) first, so the lookup sees only
// geometries the info parser lets through (inputs it refuses are skipped).
import FuzzSupport
import Glibc
import VoxSources
import VoxTransport
@testable import VoxNamespace

struct FixedVolume: VolumeSource {
    var dataType: DataType
    var channelCount: Int
    var scales: [ScaleGeometry]

    func planeRows(scale: Int, z: Int, rows: Range<Int>, columns: Range<Int>) async throws -> [UInt8] {
        [UInt8](repeating: 0, count: rows.count * columns.count * channelCount * dataType.byteWidth)
    }
}

let settings = CutoutSettings(maxBytes: MountConfig.Mount.defaultMaxCutout, source: "fuzz://", scratchDirectory: "/tmp")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    Log.setLevel(.error)
    var input = FuzzInput(data, size)
    func int() -> Int { Int(truncatingIfNeeded: input.uint64()) }
    let offset = Vec3(int(), int(), int())
    let extent = Vec3(int(), int(), int())
    let dataType = DataType.allCases[Int(input.byte()) % DataType.allCases.count]
    let channels = Int(input.byte() % 4) + 1
    let name = String(decoding: input.rest, as: UTF8.self)
    if let dot = name.lastIndex(of: "."), let (begin, end) = CutoutDirectory.parseBox(name[..<dot]) {
        consume((begin, end))
    }
    let json = """
        {"type": "image", "data_type": "\(dataType.rawValue)", "num_channels": \(channels), "scales": [{"key": "s0", \
        "size": [\(extent.x), \(extent.y), \(extent.z)], "voxel_offset": [\(offset.x), \(offset.y), \(offset.z)], \
        "chunk_sizes": [[64, 64, 64]], "resolution": [1, 1, 1], "encoding": "raw"}]}
        """
    guard let info = try? PrecomputedInfo(json: Array(json.utf8), url: "fuzz://info") else { return 0 }

    let volume = FixedVolume(dataType: info.dataType, channelCount: info.channelCount, scales: info.scales.map(\.geometry))
    let directory = CutoutDirectory(path: "/fuzz/s0/cutout", volume: volume, scale: 0, settings: settings)
    let refusal = directory.refusal(for: name)
    note("\(name) in \(info.scales[0].geometry.voxelOffset)+\(info.scales[0].geometry.size): box \(name.lastIndex(of: ".").flatMap { CutoutDirectory.parseBox(name[..<$0]) }.map { "\($0.0)..<\($0.1)" } ?? "none"), refusal \(refusal.map(String.init) ?? "none")")
    // .h5 headers are written by libhdf5 into a scratch file: not per fuzz input.
    if refusal == nil, name.hasSuffix(".npy") || name.hasSuffix(".tif"), case let .file(view)? = directory.child(named: name) {
        consume(view.size)
    }
    return 0
}
