import Foundation
import VoxCache
import VoxFileTree
import VoxSources
import VoxTransport

/// An `hdf5grid+<tree URL>` mount: the directory's files that match the pattern become the
/// cubes of one volume.
enum HDF5GridSource {
    /// HDF5 metadata is read in small pieces: blocks this size, cached in memory and on disk.
    static let metadataBlockSize = 64 << 10

    static func open(
        _ mount: MountConfig.Mount, layout: HDF5GridLayout, tree: any FileTree, caches: SourceCaches, blocks: FileBlockCaches
    ) async throws -> PrecomputedVolume {
        let listing = try await tree.list("")
        // The metadata reads happen inside chunk reads, which hold the mount's in-flight
        // budget already: they get a budget of their own, so they never wait on their callers.
        let metadataCaches = FileBlockCaches(memory: blocks.memory, disk: blocks.disk, inFlight: ByteLimiter(capacity: 16 << 20))
        let matched: [(Vec3, TreeEntry)] = listing.entries.compactMap { entry in
            guard !entry.isDirectory, let index = layout.cubeIndex(of: entry.name) else { return nil }
            return (index, entry)
        }
        var seen: [Vec3: String] = [:]
        for (index, entry) in matched {
            if let other = seen.updateValue(entry.name, forKey: index) {
                throw SourceError.invalidInfo("'\(other)' and '\(entry.name)' both name cube \(index)", url: tree.location)
            }
        }
        let files = try await withThrowingTaskGroup(of: (Vec3, RemoteFile)?.self) { group in
            for (index, entry) in matched {
                group.addTask {
                    guard case let .file(listed) = entry.kind else { return nil }
                    guard let version = try await listed.asyncOr({ try await tree.version(of: entry.name) }) else { return nil }
                    return (index, RemoteFile(
                        tree: tree, path: entry.name, version: version, modified: entry.modified, blockSize: metadataBlockSize,
                        readahead: 0, caches: metadataCaches))
                }
            }
            return try await group.reduce(into: [Vec3: RemoteFile]()) { if let (index, file) = $1 { $0[index] = file } }
        }
        let version = files.keys.sorted { ($0.z, $0.y, $0.x) < ($1.z, $1.y, $1.x) }
            .map { "\(files[$0]!.path)|\(files[$0]!.version.tag)" }.joined(separator: "\n")
        return try await HDF5GridVolume.open(
            layout: layout, cubes: files.mapValues { CubeFile(file: $0) }, version: "listing:\(version.hashValueStable)",
            location: tree.location, caches: caches, fillMissing: mount.fillMissing)
    }

    /// A cube's bytes: metadata through the file's cached blocks, chunk data fetched exactly.
    struct CubeFile: RemoteBytes {
        let file: RemoteFile

        var size: Int { file.size }
        var url: String { file.tree.describe(file.path) }

        func cached(_ range: Range<Int>) -> [UInt8]? {
            file.readIfCached(offset: range.lowerBound, count: range.count)
        }

        func load(_ range: Range<Int>) async throws {
            _ = try await file.read(offset: range.lowerBound, count: range.count)
        }

        func fetch(_ range: Range<Int>) async throws -> [UInt8] {
            try await file.fetchUncached(range)
        }
    }
}

extension Optional where Wrapped: Sendable {
    /// The value, else what `fallback` finds.
    fileprivate func asyncOr(_ fallback: () async throws -> Wrapped?) async throws -> Wrapped? {
        if let self { return self }
        return try await fallback()
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: the same in every run (Swift's `hashValue` is not).
    fileprivate var hashValueStable: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
