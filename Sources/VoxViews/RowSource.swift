import VoxSources

/// Rows of little-endian samples: what raster encoders lay out.
public protocol RowSource: Sendable {
    var rowCount: Int { get }
    var rowByteCount: Int { get }
    /// Rows at which fetching is cheapest to split (the chunk height); 1 when it does not matter.
    var rowAlignment: Int { get }
    func rows(_ range: Range<Int>) async throws -> [UInt8]
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
}

/// Every XY plane of one scale, stacked in z order: row r is row r % Y of plane r / Y.
public struct StackRows: RowSource {
    public let volume: any VolumeSource
    public let scale: Int

    public init(volume: any VolumeSource, scale: Int) {
        self.volume = volume
        self.scale = scale
    }

    private var planeHeight: Int { volume.scales[scale].size.y }
    public var rowCount: Int { planeHeight * volume.scales[scale].size.z }
    public var rowByteCount: Int { volume.rowByteCount(scale: scale) }
    public var rowAlignment: Int { volume.scales[scale].chunkSize.y }

    public func rows(_ range: Range<Int>) async throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range.count * rowByteCount)
        var row = range.lowerBound
        while row < range.upperBound {
            let plane = row / planeHeight
            let inPlane = row % planeHeight
            let end = min(range.upperBound - plane * planeHeight, planeHeight)
            let z = volume.scales[scale].voxelOffset.z + plane
            out += try await volume.planeRows(scale: scale, z: z, rows: inPlane..<end)
            row = plane * planeHeight + end
        }
        return out
    }
}
