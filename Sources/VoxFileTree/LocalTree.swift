import Foundation
import VoxTransport

/// A local directory (`file:///path/`), for tests and for data already on disk.
public struct LocalTree: FileTree {
    public let root: String

    public init(root: String) {
        self.root = root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    public var location: String { "file://" + root + "/" }

    public func describe(_ path: String) -> String { "file://" + fullPath(path) }

    private func fullPath(_ path: String) -> String { path.isEmpty ? root : root + "/" + path }

    public func list(_ path: String) async throws -> Listing {
        let directory = fullPath(path)
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted() } catch {
            throw ListingError("\(describe(path)): cannot list: \(error.localizedDescription)")
        }
        var listing = Listing()
        for name in names {
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: listing.add(TreeEntry(name: name, kind: .directory, modified: info.st_mtim.tv_sec))
            case S_IFREG: listing.add(TreeEntry(name: name, kind: .file(Self.version(info)), modified: info.st_mtim.tv_sec))
            default: listing.refused.append("'\(name)' is neither a file nor a directory")
            }
        }
        return listing
    }

    public func version(of path: String) async throws -> ObjectVersion? {
        var info = stat()
        guard stat(fullPath(path), &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return Self.version(info)
    }

    /// Size plus modification time to the nanosecond stand in for an ETag.
    private static func version(_ info: stat) -> ObjectVersion {
        ObjectVersion(size: Int(info.st_size), etag: "\"\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\"")
    }

    public func read(_ path: String, range: Range<Int>, version: ObjectVersion) async throws -> [UInt8] {
        let url = describe(path)
        guard let current = try await self.version(of: path), current == version else {
            throw StoreError.changed("size or modification time differs from the listing", url: url)
        }
        guard let object = try await FileStore(root: root).fetch(path, range: range) else {
            throw StoreError.changed("it is gone", url: url)
        }
        return object.bytes
    }
}
