import VoxSources

/// Rows of little-endian samples: what raster encoders lay out.
public protocol RowSource: Sendable {
    var rowCount: Int { get }
    var rowByteCount: Int { get }
    /// Rows at which fetching is cheapest to split (the chunk height); 1 when it does not matter.
    var rowAlignment: Int { get }
    func rows(_ range: Range<Int>) async throws -> [UInt8]
    /// The same rows if they can be had at once from memory, else nil.
    func rowsIfCached(_ range: Range<Int>) -> [UInt8]?
}

/// One XY plane of one scale.
public struct PlaneRows: RowSource {
    public let volume: any VolumeSource
    public let scale: Int
    public let z: Int

    public init(volume: any VolumeSource, scale: Int, z: Int) {
        self.volume = volume
        self.scale = scale
        self.z = z
    }

    public var rowCount: Int { volume.scales[scale].size.y }
    public var rowByteCount: Int { volume.rowByteCount(scale: scale) }
    public var rowAlignment: Int { volume.scales[scale].chunkSize.y }

    public func rows(_ range: Range<Int>) async throws -> [UInt8] {
        try await volume.planeRows(scale: scale, z: z, rows: range)
    }

    public func rowsIfCached(_ range: Range<Int>) -> [UInt8]? {
        volume.planeRowsIfCached(scale: scale, z: z, rows: range, columns: 0..<volume.scales[scale].size.x)
    }
}

/// The XY planes of a box of one scale, stacked in z order: row r is row r % Y of plane
/// r / Y, each row cut to the box's columns. The whole scale makes `volume.npy`; any box, a cutout.
public struct StackRows: RowSource {
    public let volume: any VolumeSource
    public let scale: Int
    /// Relative to the scale's voxel offset, end exclusive.
    public let begin: Vec3
    public let end: Vec3

    public init(volume: any VolumeSource, scale: Int, begin: Vec3, end: Vec3) {
        self.volume = volume
        self.scale = scale
        self.begin = begin
        self.end = end
    }

    /// Every plane of the scale, whole.
    public init(volume: any VolumeSource, scale: Int) {
        self.init(volume: volume, scale: scale, begin: Vec3(0, 0, 0), end: volume.scales[scale].size)
    }

    private var planeHeight: Int { end.y - begin.y }
    public var rowCount: Int { planeHeight * (end.z - begin.z) }
    public var rowByteCount: Int { (end.x - begin.x) * volume.channelCount * volume.dataType.byteWidth }
    public var rowAlignment: Int { volume.scales[scale].chunkSize.y }

    public func rows(_ range: Range<Int>) async throws -> [UInt8] {
        var parts: [[UInt8]] = []
        for piece in pieces(range) {
            parts.append(try await volume.planeRows(scale: scale, z: piece.z, rows: piece.rows, columns: begin.x..<end.x))
        }
        return joined(parts)
    }

    /// Reads within one plane only: a read across planes could find its first plane's chunks
    /// and not its second's, and the read that follows would then note the first plane twice.
    public func rowsIfCached(_ range: Range<Int>) -> [UInt8]? {
        let pieces = pieces(range)
        guard pieces.count == 1, let piece = pieces.first else { return nil }
        return volume.planeRowsIfCached(scale: scale, z: piece.z, rows: piece.rows, columns: begin.x..<end.x)
    }

    /// One plane's rows as they are (most reads stay within a plane), else all in one array.
    private func joined(_ parts: [[UInt8]]) -> [UInt8] {
        if parts.count == 1 { return parts[0] }
        var out: [UInt8] = []
        out.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts { out += part }
        return out
    }

    /// `range` split by plane: each plane's absolute z and its rows (relative to the scale).
    private func pieces(_ range: Range<Int>) -> [(z: Int, rows: Range<Int>)] {
        var pieces: [(z: Int, rows: Range<Int>)] = []
        var row = range.lowerBound
        while row < range.upperBound {
            let plane = row / planeHeight
            let inPlane = row % planeHeight
            let stop = min(range.upperBound - plane * planeHeight, planeHeight)
            pieces.append((volume.scales[scale].voxelOffset.z + begin.z + plane, (begin.y + inPlane)..<(begin.y + stop)))
            row = plane * planeHeight + stop
        }
        return pieces
    }
}
