import CHDF5
import Synchronization

/// A numeric dataset read out of an HDF5 file held in memory.
public struct HDF5Array: Sendable {
    public var shape: [Int]
    public var dataType: DataType
    /// Native (little-endian) samples, C order.
    public var bytes: [UInt8]

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Opens `file` and reads the first of `datasets` that exists.
    public static func read(file: [UInt8], datasets: [String]) throws(Failure) -> HDF5Array {
        try HDF5Library.lock.withLock { _ throws(Failure) -> HDF5Array in
            let handle = file.withUnsafeBytes { voxfs_h5_open_image($0.baseAddress, $0.count) }
            guard handle >= 0 else { throw Failure(description: "not an HDF5 file (\(file.count) bytes)") }
            defer { H5Fclose(handle) }
            guard let path = datasets.first(where: { voxfs_h5_exists(handle, $0) == 1 }) else {
                throw Failure(description: "no dataset \(datasets.joined(separator: " or "))")
            }
            var rank: Int32 = 0, typeClass: Int32 = 0, typeSize = 0, signed: Int32 = 0, bigEndian: Int32 = 0
            var dims = [UInt64](repeating: 0, count: 8)
            let dataset = voxfs_h5_open_dataset(handle, path, &rank, &dims, &typeClass, &typeSize, &signed, &bigEndian)
            guard dataset >= 0, rank >= 1, rank <= 8 else { throw Failure(description: "\(path): unreadable dataset") }
            defer { H5Dclose(dataset) }
            guard let dataType = Self.dataType(class: typeClass, size: typeSize, signed: signed != 0) else {
                throw Failure(description: "\(path): unsupported element type (class \(typeClass), \(typeSize) bytes)")
            }
            let shape = dims.prefix(Int(rank)).map { Int(clamping: $0) }
            let (count, overflow) = shape.reduce((1, false)) { acc, dim in
                let (product, over) = acc.0.multipliedReportingOverflow(by: dim)
                return (product, acc.1 || over)
            }
            guard !overflow, count <= 1 << 31 else { throw Failure(description: "\(path): dataset too large \(shape)") }
            var bytes = [UInt8](repeating: 0, count: count * dataType.byteWidth)
            let status = bytes.withUnsafeMutableBytes { voxfs_h5_read_native(dataset, $0.baseAddress) }
            guard status == 0 else { throw Failure(description: "\(path): read failed (corrupt or truncated data)") }
            return HDF5Array(shape: shape, dataType: dataType, bytes: bytes)
        }
    }

    static func dataType(class typeClass: Int32, size: Int, signed: Bool) -> DataType? {
        if typeClass == voxfs_h5_type_float() { return size == 4 ? .float32 : size == 8 ? .float64 : nil }
        guard typeClass == voxfs_h5_type_integer() else { return nil }
        switch (size, signed) {
        case (1, false): return .uint8
        case (1, true): return .int8
        case (2, false): return .uint16
        case (2, true): return .int16
        case (4, false): return .uint32
        case (4, true): return .int32
        case (8, false): return .uint64
        case (8, true): return .int64
        default: return nil
        }
    }
}
