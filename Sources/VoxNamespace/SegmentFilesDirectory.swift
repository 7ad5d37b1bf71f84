import Synchronization
import VoxCache
import VoxSources
import VoxViews

/// `P/meshes/`, `P/meshes/lod<k>/` and `P/skeletons/`: one file per segment id
/// (`<id>.ply`, `<id>.swc`, ...), built on lookup since ids cannot be listed. Only the ids a
/// layer's segment properties name are listed.
///
/// A lookup fetches and encodes the file once to learn its exact size; its bytes stay in a
/// memory cache and are built again if evicted before they are read.
final class SegmentFilesDirectory: VirtualDirectory {
    /// The file for a segment id and extension, or nil when the segment has none.
    typealias Build = @Sendable (_ segment: UInt64, _ fileExtension: String) async throws -> [UInt8]?

    private let path: String
    private let extensions: [String]
    private let listedIDs: [UInt64]
    private let subdirectories: [(String, VirtualNode)]
    private let build: Build
    private let files: MemoryCache<[UInt8]>
    /// Sizes of the files looked up so far (nil: the segment has no such file).
    private let sizes = Mutex<[String: Int?]>([:])

    init(path: String, extensions: [String], listedIDs: [UInt64], subdirectories: [(String, VirtualNode)] = [],
         files: MemoryCache<[UInt8]>, build: @escaping Build) {
        self.path = path
        self.extensions = extensions
        self.listedIDs = listedIDs
        self.subdirectories = subdirectories
        self.files = files
        self.build = build
    }

    func entryNames() -> [String] {
        subdirectories.map(\.0) + listedIDs.flatMap { id in extensions.map { "\(id).\($0)" } }
    }

    /// The segment id and extension a name stands for.
    private func parse(_ name: String) -> (UInt64, String)? {
        guard let dot = name.lastIndex(of: "."), extensions.contains(String(name[name.index(after: dot)...])),
              let id = MeshSources.segmentID(name[..<dot])
        else { return nil }
        return (id, String(name[name.index(after: dot)...]))
    }

    func isReady(for name: String?) -> Bool {
        guard let name, parse(name) != nil else { return true }
        return sizes.withLock { $0[name] != nil }
    }

    func prepare(for name: String?) async throws {
        guard let name, let (id, fileExtension) = parse(name) else { return }
        let key = cacheKey(name)
        let bytes = try await build(id, fileExtension)
        if let bytes { files.insert(key, bytes, cost: bytes.count + 64) }
        sizes.withLock { _ = $0.updateValue(bytes?.count, forKey: name) }
    }

    func child(named name: String) -> VirtualNode? {
        if let subdirectory = subdirectories.first(where: { $0.0 == name }) { return subdirectory.1 }
        guard let (id, fileExtension) = parse(name), let size = sizes.withLock({ $0[name] ?? nil }) else { return nil }
        let key = cacheKey(name)
        let build = build, files = files
        return .file(SegmentFileView(size: size, key: key, files: files) {
            guard let bytes = try await build(id, fileExtension) else { throw SegmentFileView.Changed(name: key) }
            return bytes
        })
    }

    private func cacheKey(_ name: String) -> String { "segment-file|\(path)/\(name)" }
}

/// A built segment file of known size: its bytes from the memory cache, or built again.
struct SegmentFileView: FileView {
    let size: Int
    let key: String
    let files: MemoryCache<[UInt8]>
    let rebuild: @Sendable () async throws -> [UInt8]

    struct Changed: Error, CustomStringConvertible {
        let name: String
        var description: String { "\(name) changed on the server since it was looked up" }
    }

    init(size: Int, key: String, files: MemoryCache<[UInt8]>, rebuild: @escaping @Sendable () async throws -> [UInt8]) {
        self.size = size
        self.key = key
        self.files = files
        self.rebuild = rebuild
    }

    func read(offset: Int, count: Int) async throws -> [UInt8] {
        let bytes = try await files.value(for: key, cost: { $0.count + 64 }) { try await rebuild() }
        guard bytes.count == size else { throw Changed(name: key) }
        return Array(bytes[clampedRange(offset: offset, count: count, size: size)])
    }

    func readIfCached(offset: Int, count: Int) -> [UInt8]? {
        guard let bytes = files.cached(key), bytes.count == size else { return nil }
        return Array(bytes[clampedRange(offset: offset, count: count, size: size)])
    }
}
