import Testing
import VoxFileTree
import VoxTransport
import VoxViews
@testable import VoxNamespace

@Suite struct RemoteDirectoryTests {
    static func root(_ tree: any FileTree) -> RemoteDirectory {
        RemoteDirectory(context: .init(tree: tree, blockSize: 4096, readahead: 0, caches: .inMemory()))
    }

    @Test func listsOnFirstUseOnlyOnce() async throws {
        let tree = MemoryTree(["a.csv": Array("x,y\n".utf8), "sub/b.swc": [1, 2, 3]])
        let root = Self.root(tree)
        #expect(tree.listCount == 0)
        #expect(!root.isReady(for: nil))
        try await root.prepare(for: nil)
        try await root.prepare(for: "a.csv")
        #expect(tree.listCount == 1)
        #expect(root.entryNames() == ["a.csv", "sub"])
        guard case let .file(view)? = root.child(named: "a.csv") else { Issue.record("a.csv is not a file"); return }
        #expect(view.size == 4)
        #expect(try await view.read(offset: 0, count: 100) == Array("x,y\n".utf8))
        #expect(root.child(named: "missing").map { _ in true } == nil)
        guard case let .directory(sub)? = root.child(named: "sub") else { Issue.record("sub is not a directory"); return }
        #expect(!sub.isReady(for: nil))
        try await sub.prepare(for: nil)
        #expect(sub.entryNames() == ["b.swc"])
    }

    @Test func aFailedListingIsTriedAgain() async throws {
        let tree = FlakyTree(failures: 1, inner: MemoryTree(["a": [1]]))
        let root = Self.root(tree)
        await #expect(throws: StoreError.self) { try await root.prepare(for: nil) }
        try await root.prepare(for: nil)
        #expect(root.entryNames() == ["a"])
    }

    @Test func filesListedWithoutASizeAreAskedOnce() async throws {
        let tree = SizelessTree(inner: MemoryTree(["a.h5": [1, 2, 3], "b.h5": [4]]))
        let root = Self.root(tree)
        try await root.prepare(for: nil)
        #expect(!root.isReady(for: "a.h5"))
        #expect(root.child(named: "a.h5").map { _ in true } == nil)
        try await root.prepare(for: "a.h5")
        #expect(root.isReady(for: "a.h5"))
        guard case let .file(view)? = root.child(named: "a.h5") else { Issue.record("a.h5 is not a file"); return }
        #expect(view.size == 3)
        #expect(!root.isReady(for: "b.h5"))
    }
}


/// Fails its first `failures` listings.
final class FlakyTree: FileTree, @unchecked Sendable {
    private var failures: Int
    private let inner: MemoryTree
    init(failures: Int, inner: MemoryTree) {
        self.failures = failures
        self.inner = inner
    }

    var location: String { inner.location }
    func describe(_ path: String) -> String { inner.describe(path) }
    func list(_ path: String) async throws -> Listing {
        if failures > 0 {
            failures -= 1
            throw StoreError.httpStatus(503, url: describe(path))
        }
        return try await inner.list(path)
    }
    func version(of path: String) async throws -> ObjectVersion? { try await inner.version(of: path) }
    func read(_ path: String, range: Range<Int>, version: ObjectVersion) async throws -> [UInt8] {
        try await inner.read(path, range: range, version: version)
    }
}

/// Lists files without sizes, as index pages with human-readable sizes do.
struct SizelessTree: FileTree {
    let inner: MemoryTree
    var location: String { inner.location }
    func describe(_ path: String) -> String { inner.describe(path) }
    func list(_ path: String) async throws -> Listing {
        Listing(entries: try await inner.list(path).entries.map { entry in
            entry.isDirectory ? entry : TreeEntry(name: entry.name, kind: .file(nil))
        })
    }
    func version(of path: String) async throws -> ObjectVersion? { try await inner.version(of: path) }
    func read(_ path: String, range: Range<Int>, version: ObjectVersion) async throws -> [UInt8] {
        try await inner.read(path, range: range, version: version)
    }
}
