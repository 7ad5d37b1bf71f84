import CTurboJPEG
import Synchronization

/// `jpeg`: one image of width X and height Y*Z (libturbojpeg), 1 or 3 channels.
///
/// Decoded with the accurate integer DCT, as PIL, simplejpeg and Neuroglancer do, so
/// voxels match what those readers show exactly.
public struct JPEGChunkDecoder: ChunkDecoder {
    public init() {}

    public func decode(_ bytes: [UInt8], layout: ChunkLayout) throws -> [UInt8] {
        let handle = TurboJPEGPool.shared.take()
        defer { TurboJPEGPool.shared.give(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = bytes.withUnsafeBufferPointer {
            tjDecompressHeader3(handle.raw, $0.baseAddress, UInt(bytes.count), &width, &height, &subsampling, &colorspace)
        }
        guard header == 0 else { throw ChunkDecodeError("jpeg header: \(Self.message(handle))") }
        let shape = layout.shape
        guard Int(width) == shape.x, Int(height) == shape.y * shape.z else {
            throw ChunkDecodeError("jpeg is \(width)x\(height), expected \(shape.x)x\(shape.y * shape.z) for shape \(shape)")
        }
        let format = layout.channelCount == 1 ? TJPF_GRAY : TJPF_RGB
        // Not zero-filled first: a decode that returns 0 has written every pixel (warnings,
        // such as a truncated stream, return -1).
        var status: Int32 = -1
        let pixels = [UInt8](unsafeUninitializedCapacity: layout.decodedByteCount) { dst, initialized in
            status = bytes.withUnsafeBufferPointer { src in
                tjDecompress2(handle.raw, src.baseAddress, UInt(bytes.count), dst.baseAddress, width, 0, height, format.rawValue, TJFLAG_ACCURATEDCT)
            }
            initialized = dst.count
        }
        guard status == 0 else { throw ChunkDecodeError("jpeg decode: \(Self.message(handle))") }
        return layout.deinterleave(pixels)
    }

    private static func message(_ handle: TurboJPEGHandle) -> String {
        String(cString: tjGetErrorStr2(handle.raw))
    }
}

/// A turbojpeg handle, used by one thread at a time.
struct TurboJPEGHandle: @unchecked Sendable {
    let raw: tjhandle
}

/// Reuses decompressor handles: a handle must not be shared between threads at once.
final class TurboJPEGPool: Sendable {
    static let shared = TurboJPEGPool()
    private let idle = Mutex<[TurboJPEGHandle]>([])

    func take() -> TurboJPEGHandle {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        guard let raw = tjInitDecompress() else { fatalError("tjInitDecompress failed") }
        return TurboJPEGHandle(raw: raw)
    }

    func give(_ handle: TurboJPEGHandle) {
        idle.withLock { $0.append(handle) }
    }
}
