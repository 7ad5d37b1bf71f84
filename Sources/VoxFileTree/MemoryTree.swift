import Synchronization
import VoxTransport

/// A file tree in memory, for tests: files by path, with counts of listings and reads.
public final class MemoryTree: FileTree {
    private struct State {
        var files: [String: (bytes: [UInt8], revision: Int)] = [:]
        var lists = 0
        var reads: [Range<Int>] = []
    }

    private let state = Mutex(State())
    public let location = "memory:///"

    public init(_ files: [String: [UInt8]] = [:]) {
        for (path, bytes) in files { put(path, bytes) }
    }

    /// Adds or replaces a file; a replacement is a new version.
    public func put(_ path: String, _ bytes: [UInt8]) {
        state.withLock { state in
            let revision = (state.files[path]?.revision ?? 0) + 1
            state.files[path] = (bytes, revision)
        }
    }

    public var listCount: Int { state.withLock { $0.lists } }
    /// Every range read so far, in order.
    public var readRanges: [Range<Int>] { state.withLock { $0.reads } }

    public func describe(_ path: String) -> String { location + path }

    public func list(_ path: String) async throws -> Listing {
        let prefix = path.isEmpty ? "" : path + "/"
        let files = state.withLock { state in
            state.lists += 1
            return state.files.filter { $0.key.hasPrefix(prefix) }.map { ($0.key, $0.value) }
        }
        var directories: Set<String> = []
        var listing = Listing()
        for (key, file) in files.sorted(by: { $0.0 < $1.0 }) {
            let rest = key.dropFirst(prefix.count)
            if let slash = rest.firstIndex(of: "/") {
                let name = String(rest[..<slash])
                if directories.insert(name).inserted { listing.add(TreeEntry(name: name, kind: .directory)) }
            } else {
                listing.add(TreeEntry(name: String(rest), kind: .file(Self.version(file))))
            }
        }
        guard !listing.entries.isEmpty || path.isEmpty else { throw StoreError.httpStatus(404, url: describe(path)) }
        return listing
    }

    public func version(of path: String) async throws -> ObjectVersion? {
        state.withLock { $0.files[path].map(Self.version) }
    }

    public func read(_ path: String, range: Range<Int>, version: ObjectVersion) async throws -> [UInt8] {
        let file = state.withLock { state in
            state.reads.append(range)
            return state.files[path]
        }
        guard let file, Self.version(file) == version else { throw StoreError.changed("new revision", url: describe(path)) }
        guard range.lowerBound >= 0, range.upperBound <= file.bytes.count else {
            throw StoreError.badRange("range \(range) outside \(file.bytes.count) bytes", url: describe(path))
        }
        return Array(file.bytes[range])
    }

    private static func version(_ file: (bytes: [UInt8], revision: Int)) -> ObjectVersion {
        ObjectVersion(size: file.bytes.count, etag: "\"r\(file.revision)\"")
    }
}
