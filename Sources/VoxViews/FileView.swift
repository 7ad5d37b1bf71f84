/// A virtual file whose size is known before any pixel is fetched.
public protocol FileView: Sendable {
    var size: Int { get }
    /// Exactly the bytes [offset, min(offset + count, size)).
    func read(offset: Int, count: Int) async throws -> [UInt8]
    /// The same bytes if they are at hand without waiting for anything, else nil: lets the
    /// FUSE thread answer at once instead of handing the read to a task.
    func readIfCached(offset: Int, count: Int) -> [UInt8]?
    /// Seconds since the epoch, when the source says; nil shows the mount time.
    var modificationTime: Int? { get }
}

extension FileView {
    public func readIfCached(offset: Int, count: Int) -> [UInt8]? { nil }
    public var modificationTime: Int? { nil }
}

/// A file held in memory, e.g. a layer's `info`.
public struct StaticFileView: FileView {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var size: Int { bytes.count }

    public func read(offset: Int, count: Int) async throws -> [UInt8] {
        readIfCached(offset: offset, count: count)!
    }

    public func readIfCached(offset: Int, count: Int) -> [UInt8]? {
        Array(bytes[clampedRange(offset: offset, count: count, size: bytes.count)])
    }
}

/// [offset, offset + count) clipped to a file of `size` bytes.
public func clampedRange(offset: Int, count: Int, size: Int) -> Range<Int> {
    let start = min(max(offset, 0), size)
    return start..<min(start + max(count, 0), size)
}
