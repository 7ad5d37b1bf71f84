import CHDF5
import Foundation

/// The bytes around the data of an HDF5 file holding one contiguous dataset `/data`: the
/// file is `prefix`, then the array in C order, then `suffix`. libhdf5 writes the file once
/// with the data's space allocated but never written (a hole in a sparse scratch file), so a
/// cutout of any size costs a few kilobytes to describe.
public struct HDF5CutoutLayout: Sendable {
    public let prefix: [UInt8]
    public let suffix: [UInt8]

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// - Parameters:
    ///   - shape: C order, e.g. (Z, Y, X) or (Z, Y, X, C).
    ///   - resolution: nm per voxel, x, y, z; `offset`: the box's first voxel, x, y, z.
    ///   - scratchDirectory: where the sparse file is written and removed again.
    public init(
        shape: [Int], dataType: DataType, resolution: [Double], offset: Vec3, source: String, scratchDirectory: String
    ) throws(Failure) {
        let kind: Int32 = switch dataType {
        case .uint8, .uint16, .uint32, .uint64: 0
        case .int8, .int16, .int32, .int64: 1
        case .float32, .float64: 2
        }
        let dataBytes = shape.reduce(dataType.byteWidth, *)
        let path = scratchDirectory + "/cutout-\(getpid())-\(UUID().uuidString).h5"
        defer { unlink(path) }
        let dims = shape.map { UInt64($0) }
        let start = HDF5Library.lock.withLock { _ in
            voxfs_h5_write_cutout(path, Int32(shape.count), dims, kind, dataType.byteWidth, resolution, [offset.x, offset.y, offset.z].map(Int64.init), source)
        }
        guard start >= 0 else { throw Failure(description: "libhdf5 could not write a cutout header in \(scratchDirectory)") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, Int(start) + dataBytes <= Int(info.st_size) else {
            throw Failure(description: "libhdf5 laid out the cutout file unexpectedly")
        }
        func read(_ range: Range<Int>) throws(Failure) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: range.count)
            let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, range.count, off_t(range.lowerBound)) }
            guard got == range.count else { throw Failure(description: "\(path): short read") }
            return bytes
        }
        prefix = try read(0..<Int(start))
        suffix = try read((Int(start) + dataBytes)..<Int(info.st_size))
    }
}
