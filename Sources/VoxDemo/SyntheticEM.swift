import Foundation
import VoxSources

/// A small multi-scale EM-like volume (cells with dark membranes and grain), written as a
/// Neuroglancer precomputed layer with JPEG chunks, so `voxfs demo` needs no network.
public enum SyntheticEM {
    public static let size = Vec3(512, 512, 48)
    public static let chunk = Vec3(128, 128, 16)
    public static let scaleCount = 3
    /// Bump when the generated data changes, so old copies are rebuilt.
    public static let version = "1"

    /// Writes the layer into `directory` unless an identical version is already there.
    public static func write(to directory: URL) throws {
        let marker = directory.appendingPathComponent(".voxfs-demo-version")
        if (try? String(contentsOf: marker, encoding: .utf8)) == version { return }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var voxels = baseVolume()
        var scales: [ScaleGeometry] = []
        var extent = size
        for level in 0..<scaleCount {
            let factor = 1 << level
            let scale = ScaleGeometry(
                key: "\(8 * factor)_\(8 * factor)_40", size: extent, voxelOffset: Vec3(0, 0, 0),
                chunkSize: chunk, resolution: [Double(8 * factor), Double(8 * factor), 40], encoding: "jpeg")
            try writeChunks(voxels, scale: scale, into: directory)
            scales.append(scale)
            (voxels, extent) = halveXY(voxels, extent)
        }
        try infoJSON(scales).write(to: directory.appendingPathComponent("info"))
        try version.write(to: marker, atomically: true, encoding: .utf8)
    }

    static func infoJSON(_ scales: [ScaleGeometry]) throws -> Data {
        let info: [String: Any] = [
            "@type": "neuroglancer_multiscale_volume", "type": "image", "data_type": "uint8", "num_channels": 1,
            "scales": scales.map { s in
                [
                    "key": s.key, "size": [s.size.x, s.size.y, s.size.z], "voxel_offset": [0, 0, 0],
                    "chunk_sizes": [[s.chunkSize.x, s.chunkSize.y, s.chunkSize.z]],
                    "resolution": s.resolution, "encoding": s.encoding,
                ] as [String: Any]
            },
        ]
        return try JSONSerialization.data(withJSONObject: info, options: [.prettyPrinted, .sortedKeys])
    }

    /// Voxels in [x, y, z] order, x fastest.
    static func baseVolume() -> [UInt8] {
        let cell = 40.0
        var out = [UInt8](repeating: 0, count: size.product)
        var random = SplitMix(seed: 40)
        let grid = (size.x / Int(cell)) + 2
        // Cell centres on a jittered grid; they drift slowly with z like neurites do.
        let seeds = (0..<(grid * grid)).map { _ in (random.unit() * cell, random.unit() * cell, random.unit() * 0.6 - 0.3, random.unit() * 0.6 - 0.3) }
        out.withUnsafeMutableBufferPointer { voxels in
            for z in 0..<size.z {
                for y in 0..<size.y {
                    for x in 0..<size.x {
                        let gx = Int(Double(x) / cell), gy = Int(Double(y) / cell)
                        var nearest = Double.infinity, second = Double.infinity
                        for j in max(gy - 1, 0)...min(gy + 1, grid - 1) {
                            for i in max(gx - 1, 0)...min(gx + 1, grid - 1) {
                                let s = seeds[j * grid + i]
                                let dx = Double(i) * cell + s.0 + s.2 * Double(z) - Double(x)
                                let dy = Double(j) * cell + s.1 + s.3 * Double(z) - Double(y)
                                let d = dx * dx + dy * dy
                                if d < nearest { second = nearest; nearest = d } else if d < second { second = d }
                            }
                        }
                        let edge = second.squareRoot() - nearest.squareRoot()  // 0 on a membrane
                        let membrane = edge < 2.5 ? 110.0 * (1 - edge / 2.5) : 0
                        let grain = Double((x &* 73856093 ^ y &* 19349663 ^ z &* 83492791) & 31) - 16
                        let value = 170 + 12 * sin(Double(x + 2 * z) * 0.07) - membrane + grain
                        voxels[x + size.x * (y + size.y * z)] = UInt8(max(0, min(255, value)))
                    }
                }
            }
        }
        return out
    }

    static func halveXY(_ voxels: [UInt8], _ extent: Vec3) -> ([UInt8], Vec3) {
        let half = Vec3((extent.x + 1) / 2, (extent.y + 1) / 2, extent.z)
        var out = [UInt8](repeating: 0, count: half.product)
        for z in 0..<half.z {
            for y in 0..<half.y {
                for x in 0..<half.x {
                    var sum = 0, count = 0
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] where 2 * x + dx < extent.x && 2 * y + dy < extent.y {
                        sum += Int(voxels[(2 * x + dx) + extent.x * ((2 * y + dy) + extent.y * z)])
                        count += 1
                    }
                    out[x + half.x * (y + half.y * z)] = UInt8(sum / count)
                }
            }
        }
        return (out, half)
    }

    static func writeChunks(_ voxels: [UInt8], scale: ScaleGeometry, into directory: URL) throws {
        let grid = scale.gridSize
        for gz in 0..<grid.z {
            for gy in 0..<grid.y {
                for gx in 0..<grid.x {
                    let cell = Vec3(gx, gy, gz)
                    let (begin, end) = scale.chunkBounds(cell)
                    let shape = end - begin
                    var pixels = [UInt8](repeating: 0, count: shape.product)
                    for z in 0..<shape.z {
                        for y in 0..<shape.y {
                            let from = begin.x + scale.size.x * ((begin.y + y) + scale.size.y * (begin.z + z))
                            let to = shape.x * (y + shape.y * z)
                            pixels[to..<(to + shape.x)] = voxels[from..<(from + shape.x)]
                        }
                    }
                    let jpeg = try JPEGEncoder.encodeGray(pixels, width: shape.x, height: shape.y * shape.z)
                    let url = directory.appendingPathComponent(UnshardedChunkReader.chunkKey(scale: scale, cell: cell))
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data(jpeg).write(to: url)
                }
            }
        }
    }
}

/// A tiny deterministic generator, so the demo volume is the same on every machine.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
