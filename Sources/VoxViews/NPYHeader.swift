import VoxSources

/// The header of an NPY v1.0 file: magic, version, length, and the dict padded to 64 bytes.
public enum NPYHeader {
    public static func make(dataType: DataType, shape: [Int]) -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var dict = "{'descr': '\(dataType.numpyDescriptor)', 'fortran_order': False, 'shape': (\(dims)), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = dict.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(dict.utf8)
    }

    /// (Y, X) or (Y, X, C) for a plane; a leading Z for a stack.
    public static func shape(volume: any VolumeSource, scale: Int, stack: Bool) -> [Int] {
        let size = volume.scales[scale].size
        var shape = stack ? [size.z, size.y, size.x] : [size.y, size.x]
        if volume.channelCount > 1 { shape.append(volume.channelCount) }
        return shape
    }
}
