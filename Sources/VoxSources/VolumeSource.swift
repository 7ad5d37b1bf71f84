/// A multi-scale voxel volume: the one protocol every view reads pixels through.
public protocol VolumeSource: Sendable {
    var dataType: DataType { get }
    var channelCount: Int { get }
    var scales: [ScaleGeometry] { get }

    /// Rows `rows` (relative to the scale's y offset) of the XY plane at absolute `z`, over the
    /// scale's whole x extent, laid out (Y, X, C) in C order with little-endian samples.
    func planeRows(scale: Int, z: Int, rows: Range<Int>) async throws -> [UInt8]
}

extension VolumeSource {
    /// Bytes in one row of an XY plane of `scale`.
    public func rowByteCount(scale: Int) -> Int {
        scales[scale].size.x * channelCount * dataType.byteWidth
    }
}
