import VoxTransport

/// Where a volume's stored chunks come from: one file per chunk, or (later) shards.
public protocol ChunkReader: Sendable {
    /// The stored bytes of grid cell `cell` of `scale`, or nil when the chunk does not exist.
    func storedChunk(scale: ScaleGeometry, cell: Vec3) async throws -> [UInt8]?
    /// The URL of a chunk, for messages.
    func describe(scale: ScaleGeometry, cell: Vec3) -> String
}

/// Unsharded precomputed: `<key>/<x0>-<x1>_<y0>-<y1>_<z0>-<z1>` in absolute voxel coordinates.
public struct UnshardedChunkReader: ChunkReader {
    let store: any ObjectStore

    public init(store: any ObjectStore) {
        self.store = store
    }

    public static func chunkKey(scale: ScaleGeometry, cell: Vec3) -> String {
        let (begin, end) = scale.chunkBounds(cell)
        let a = begin + scale.voxelOffset, b = end + scale.voxelOffset
        // Scale keys may contain `..`: the transport resolves dot segments.
        return "\(scale.key)/\(a.x)-\(b.x)_\(a.y)-\(b.y)_\(a.z)-\(b.z)"
    }

    public func storedChunk(scale: ScaleGeometry, cell: Vec3) async throws -> [UInt8]? {
        try await store.fetch(Self.chunkKey(scale: scale, cell: cell))?.bytes
    }

    public func describe(scale: ScaleGeometry, cell: Vec3) -> String {
        store.describe(Self.chunkKey(scale: scale, cell: cell))
    }
}
