import Foundation
import VoxCache
import VoxSources
import VoxTransport

/// A raw precomputed layer in a MemoryStore, with a known value at every voxel.
struct TestVolume {
    let size: Vec3
    let offset: Vec3
    let chunk: Vec3
    let channels: Int
    let dataType: DataType
    let store = MemoryStore(location: "memory://layer")

    init(size: Vec3, offset: Vec3 = Vec3(0, 0, 0), chunk: Vec3, channels: Int = 1, dataType: DataType = .uint8) {
        self.size = size
        self.offset = offset
        self.chunk = chunk
        self.channels = channels
        self.dataType = dataType
        let scale = geometry
        store.put("info", Array(infoJSON.utf8))
        let grid = scale.gridSize
        for gz in 0..<grid.z { for gy in 0..<grid.y { for gx in 0..<grid.x {
            let cell = Vec3(gx, gy, gz)
            store.put(UnshardedChunkReader.chunkKey(scale: scale, cell: cell), rawChunk(cell))
        } } }
    }

    var geometry: ScaleGeometry {
        ScaleGeometry(key: "s0", size: size, voxelOffset: offset, chunkSize: chunk, resolution: [4, 4, 40], encoding: "raw")
    }

    var infoJSON: String {
        """
        {"type": "image", "data_type": "\(dataType.rawValue)", "num_channels": \(channels), "scales": [
          {"key": "s0", "size": [\(size.x), \(size.y), \(size.z)], "voxel_offset": [\(offset.x), \(offset.y), \(offset.z)],
           "chunk_sizes": [[\(chunk.x), \(chunk.y), \(chunk.z)]], "resolution": [4, 4, 40], "encoding": "raw"}]}
        """
    }

    /// The value of voxel (x, y, z, c) in volume-relative coordinates, as little-endian bytes.
    func sample(_ x: Int, _ y: Int, _ z: Int, _ c: Int) -> [UInt8] {
        let value = UInt64(x &* 7 &+ y &* 131 &+ z &* 7919 &+ c &* 104729)
        return (0..<dataType.byteWidth).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }

    func rawChunk(_ cell: Vec3) -> [UInt8] {
        let (begin, end) = geometry.chunkBounds(cell)
        var out: [UInt8] = []
        for c in 0..<channels { for z in begin.z..<end.z { for y in begin.y..<end.y { for x in begin.x..<end.x {
            out += sample(x, y, z, c)
        } } } }
        return out
    }

    /// Expected plane rows in (Y, X, C) order.
    func expectedRows(z: Int, rows: Range<Int>) -> [UInt8] {
        var out: [UInt8] = []
        for y in rows { for x in 0..<size.x { for c in 0..<channels { out += sample(x, y, z - offset.z, c) } } }
        return out
    }

    func open(store: (any ObjectStore)? = nil, fillMissing: Bool = true, cacheBytes: Int = 64 << 20) async throws -> PrecomputedVolume {
        try await PrecomputedVolume.open(store: store ?? self.store, caches: .inMemory(chunkBytes: cacheBytes), fillMissing: fillMissing)
    }
}
