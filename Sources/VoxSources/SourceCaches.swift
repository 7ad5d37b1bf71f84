import VoxCache

/// The caches a volume source reads through, shared by every source of a mount.
public struct SourceCaches: Sendable {
    /// Decoded chunks.
    public var chunks: MemoryCache<DecodedChunk>
    /// Small objects: shard and minishard indexes.
    public var metadata: MemoryCache<[UInt8]>
    /// The persistent tier, if any.
    public var disk: DiskCache?
    /// Bounds the decoded bytes being fetched or copied at once.
    public var inFlight: ByteLimiter

    public init(chunks: MemoryCache<DecodedChunk>, metadata: MemoryCache<[UInt8]>, disk: DiskCache?, inFlight: ByteLimiter) {
        self.chunks = chunks
        self.metadata = metadata
        self.disk = disk
        self.inFlight = inFlight
    }

    /// Small caches and no disk tier, for tests.
    public static func inMemory(chunkBytes: Int = 64 << 20, inFlightBytes: Int = 1 << 20) -> SourceCaches {
        SourceCaches(chunks: MemoryCache(capacity: chunkBytes), metadata: MemoryCache(capacity: 1 << 20),
                     disk: nil, inFlight: ByteLimiter(capacity: inFlightBytes))
    }
}
