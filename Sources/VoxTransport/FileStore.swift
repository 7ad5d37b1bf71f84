import Foundation

/// Objects as files under a local directory (`file://` sources).
///
/// A missing `name` falls back to `name.gz`, which is how CloudVolume stores compressed
/// objects on local disk.
public struct FileStore: ObjectStore {
    public let root: String

    public init(root: String) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    }

    public var location: String { "file://" + root }

    public func fetch(_ key: String, range: Range<Int>?) async throws -> FetchedObject? {
        let path = key.isEmpty ? root : root + "/" + key
        if let object = try read(path, range: range) { return object }
        guard let compressed = try read(path + ".gz", range: nil) else { return nil }
        let bytes: [UInt8]
        do { bytes = try Gzip.inflate(compressed.bytes, limit: 1 << 30) } catch {
            throw StoreError.corrupt("\(error)", url: "file://" + path + ".gz")
        }
        guard let range else { return FetchedObject(bytes: bytes, validator: compressed.validator) }
        guard range.upperBound <= bytes.count else {
            throw StoreError.badRange("range \(range) past end \(bytes.count)", url: "file://" + path)
        }
        return FetchedObject(bytes: Array(bytes[range]), validator: compressed.validator)
    }

    private func read(_ path: String, range: Range<Int>?) throws -> FetchedObject? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw StoreError.transport(String(cString: strerror(errno)), url: "file://" + path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw StoreError.transport(String(cString: strerror(errno)), url: "file://" + path)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { return nil }
        let size = Int(info.st_size)
        let wanted = range ?? 0..<size
        guard wanted.lowerBound >= 0, wanted.upperBound <= size else {
            throw StoreError.badRange("range \(wanted) past end \(size)", url: "file://" + path)
        }
        var bytes = [UInt8](repeating: 0, count: wanted.count)
        var done = 0
        while done < wanted.count {
            let n = bytes.withUnsafeMutableBytes { buf in
                pread(fd, buf.baseAddress! + done, wanted.count - done, off_t(wanted.lowerBound + done))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw StoreError.transport("short read", url: "file://" + path)
            }
            done += n
        }
        let validator = "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)-\(size)"
        return FetchedObject(bytes: bytes, validator: validator)
    }
}
