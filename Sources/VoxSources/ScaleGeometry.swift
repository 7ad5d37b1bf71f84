/// One resolution level of a volume: where it lies and how it is chunked.
public struct ScaleGeometry: Sendable, Equatable {
    public var key: String
    public var size: Vec3
    public var voxelOffset: Vec3
    public var chunkSize: Vec3
    public var resolution: [Double]
    public var encoding: String

    public init(key: String, size: Vec3, voxelOffset: Vec3, chunkSize: Vec3, resolution: [Double], encoding: String) {
        self.key = key
        self.size = size
        self.voxelOffset = voxelOffset
        self.chunkSize = chunkSize
        self.resolution = resolution
        self.encoding = encoding
    }

    /// Chunks per axis: edge chunks are truncated, so the grid rounds up.
    public var gridSize: Vec3 { size.ceilDiv(chunkSize) }

    /// The voxel box of grid cell `g`, relative to `voxelOffset`: [begin, end).
    public func chunkBounds(_ g: Vec3) -> (begin: Vec3, end: Vec3) {
        let begin = g * chunkSize
        return (begin, (begin + chunkSize).min(size))
    }

    /// The absolute z range, `voxelOffset.z ..< voxelOffset.z + size.z`.
    public var zRange: Range<Int> { voxelOffset.z..<(voxelOffset.z + size.z) }
}
