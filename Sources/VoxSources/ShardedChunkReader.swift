import VoxTransport

/// Sharded precomputed chunks: a chunk's id is the compressed Morton code of its grid
/// position, looked up in the scale's shards.
public struct ShardedChunkReader: ChunkReader {
    let objects: ShardedObjects

    public init(store: any ObjectStore, spec: ShardingSpec, caches: SourceCaches, cachePrefix: String) {
        self.objects = ShardedObjects(store: store, spec: spec, caches: caches, cachePrefix: cachePrefix)
    }

    public func storedChunk(scale: ScaleGeometry, cell: Vec3) async throws -> [UInt8]? {
        try await objects.read(scale.mortonCode(cell), in: scale.key)
    }

    public func describe(scale: ScaleGeometry, cell: Vec3) -> String {
        objects.describe(scale.mortonCode(cell), in: scale.key)
    }
}
