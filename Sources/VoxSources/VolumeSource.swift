/// A multi-scale voxel volume: the one protocol every view reads pixels through.
public protocol VolumeSource: Sendable {
    var dataType: DataType { get }
    var channelCount: Int { get }
    var scales: [ScaleGeometry] { get }

    /// Rows `rows` and columns `columns` (relative to the scale's offset) of the XY plane at
    /// absolute `z`, laid out (Y, X, C) in C order with little-endian samples.
    func planeRows(scale: Int, z: Int, rows: Range<Int>, columns: Range<Int>) async throws -> [UInt8]
    /// The same, if it can be answered at once from memory; else nil.
    func planeRowsIfCached(scale: Int, z: Int, rows: Range<Int>, columns: Range<Int>) -> [UInt8]?
}

extension VolumeSource {
    public func planeRowsIfCached(scale: Int, z: Int, rows: Range<Int>, columns: Range<Int>) -> [UInt8]? { nil }

    /// Rows of a plane over the scale's whole x extent.
    public func planeRows(scale: Int, z: Int, rows: Range<Int>) async throws -> [UInt8] {
        try await planeRows(scale: scale, z: z, rows: rows, columns: 0..<scales[scale].size.x)
    }

    /// Bytes in one row of an XY plane of `scale`.
    public func rowByteCount(scale: Int) -> Int {
        scales[scale].size.x * channelCount * dataType.byteWidth
    }
}
