import CTurboJPEG

/// Grayscale JPEG encoding with libturbojpeg, for the synthetic demo volume.
public enum JPEGEncoder {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func encodeGray(_ pixels: [UInt8], width: Int, height: Int, quality: Int32 = 90) throws -> [UInt8] {
        guard let handle = tjInitCompress() else { throw Failure(description: "tjInitCompress failed") }
        defer { tjDestroy(handle) }
        var output: UnsafeMutablePointer<UInt8>?
        var length: UInt = 0
        let status = pixels.withUnsafeBufferPointer {
            tjCompress2(handle, $0.baseAddress, Int32(width), 0, Int32(height), Int32(TJPF_GRAY.rawValue),
                        &output, &length, Int32(TJSAMP_GRAY.rawValue), quality, TJFLAG_ACCURATEDCT)
        }
        defer { tjFree(output) }
        guard status == 0, let output else {
            throw Failure(description: "jpeg encode: " + String(cString: tjGetErrorStr2(handle)))
        }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }
}

