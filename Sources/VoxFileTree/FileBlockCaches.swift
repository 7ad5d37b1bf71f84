import VoxCache

/// The caches every remote file of a mount reads blocks through.
public struct FileBlockCaches: Sendable {
    /// Recently read and read-ahead blocks.
    public var memory: MemoryCache<[UInt8]>
    /// The persistent tier, if any.
    public var disk: DiskCache?
    /// Bounds the bytes being fetched at once.
    public var inFlight: ByteLimiter

    public init(memory: MemoryCache<[UInt8]>, disk: DiskCache?, inFlight: ByteLimiter) {
        self.memory = memory
        self.disk = disk
        self.inFlight = inFlight
    }

    /// Small caches and no disk tier, for tests.
    public static func inMemory(bytes: Int = 64 << 20) -> FileBlockCaches {
        FileBlockCaches(memory: MemoryCache(capacity: bytes), disk: nil, inFlight: ByteLimiter(capacity: bytes / 2))
    }
}
