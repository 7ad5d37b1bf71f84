/// Voxel sample types, with what each file format calls them.
public enum DataType: String, Sendable, CaseIterable {
    case uint8, int8, uint16, int16, uint32, int32, uint64, int64, float32, float64

    public var byteWidth: Int {
        switch self {
        case .uint8, .int8: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        }
    }

    /// numpy's dtype string, little-endian.
    public var numpyDescriptor: String {
        let kind = switch self {
        case .uint8, .uint16, .uint32, .uint64: "u"
        case .int8, .int16, .int32, .int64: "i"
        case .float32, .float64: "f"
        }
        return (byteWidth == 1 ? "|" : "<") + kind + String(byteWidth)
    }

    /// TIFF SampleFormat: 1 unsigned, 2 signed, 3 floating point.
    public var tiffSampleFormat: UInt16 {
        switch self {
        case .uint8, .uint16, .uint32, .uint64: 1
        case .int8, .int16, .int32, .int64: 2
        case .float32, .float64: 3
        }
    }
}
