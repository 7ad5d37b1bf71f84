/// A chunk's voxels in precomputed order, or nothing for a missing chunk read as zeros.
public struct DecodedChunk: Sendable {
    public var shape: Vec3
    /// nil: the chunk does not exist and reads as zeros.
    public var voxels: [UInt8]?

    /// What it costs to keep in memory.
    public var cost: Int { (voxels?.count ?? 0) + 64 }
}
