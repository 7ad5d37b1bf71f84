/// A virtual file whose size is known before any pixel is fetched.
public protocol FileView: Sendable {
    var size: Int { get }
    /// Exactly the bytes [offset, min(offset + count, size)).
    func read(offset: Int, count: Int) async throws -> [UInt8]
}

/// A file held in memory, e.g. a layer's `info`.
public struct StaticFileView: FileView {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var size: Int { bytes.count }

    public func read(offset: Int, count: Int) async throws -> [UInt8] {
        let range = clampedRange(offset: offset, count: count, size: bytes.count)
        return Array(bytes[range])
    }
}

/// [offset, offset + count) clipped to a file of `size` bytes.
func clampedRange(offset: Int, count: Int, size: Int) -> Range<Int> {
    let start = min(max(offset, 0), size)
    return start..<min(start + max(count, 0), size)
}
