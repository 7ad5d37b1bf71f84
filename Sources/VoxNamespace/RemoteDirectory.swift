import Synchronization
import VoxFileTree
import VoxTransport

/// A directory of a remote file tree: listed on first use, then served from memory.
///
/// Subdirectories and files become nodes only when looked up, so a directory of 100,000
/// entries costs its listing and nothing per entry until used.
final class RemoteDirectory: VirtualDirectory {
    /// What every directory of one mounted tree shares.
    struct Context: Sendable {
        var tree: any FileTree
        var blockSize: Int
        var readahead: Int
        var caches: FileBlockCaches
    }

    private struct State {
        var names: [String] = []
        var entries: [String: TreeEntry]?
        /// Sizes asked of the server for files the listing gave none (nil: the file is gone).
        var headed: [String: ObjectVersion?] = [:]
        var nodes: [String: VirtualNode] = [:]
    }

    private let context: Context
    /// Relative to the tree's root: `""` or `a/b`.
    private let path: String
    private let state = Mutex(State())
    /// The listing in progress, shared by every caller that needs it.
    private let listing = Mutex<Task<Void, any Error>?>(nil)

    init(context: Context, path: String = "") {
        self.context = context
        self.path = path
    }

    func entryNames() -> [String] { state.withLock { $0.names } }

    func isReady(for name: String?) -> Bool {
        state.withLock { state in
            guard let entries = state.entries else { return false }
            guard let name, case .file(nil)? = entries[name]?.kind else { return true }
            return state.headed[name] != nil
        }
    }

    func prepare(for name: String?) async throws {
        try await listOnce()
        guard let name, !isReady(for: name) else { return }
        let version = try await context.tree.version(of: childPath(name))
        state.withLock { _ = $0.headed.updateValue(version, forKey: name) }
    }

    func child(named name: String) -> VirtualNode? {
        state.withLock { state in
            if let node = state.nodes[name] { return node }
            guard let entry = state.entries?[name] else { return nil }
            let node: VirtualNode
            switch entry.kind {
            case .directory:
                node = .directory(RemoteDirectory(context: context, path: childPath(name)))
            case let .file(listed):
                guard let version = listed ?? state.headed[name] ?? nil else { return nil }
                node = .file(RemoteFile(
                    tree: context.tree, path: childPath(name), version: version, modified: entry.modified,
                    blockSize: context.blockSize, readahead: context.readahead, caches: context.caches))
            }
            state.nodes[name] = node
            return node
        }
    }

    private func childPath(_ name: String) -> String { path.isEmpty ? name : path + "/" + name }

    /// Lists the directory once; a failed listing is not kept, so the next access tries again.
    private func listOnce() async throws {
        let task = listing.withLock { current in
            if let current { return current }
            let task = Task { [self] in
                do {
                    let result = try await context.tree.list(path)
                    if !result.refused.isEmpty {
                        Log.error("listing \(context.tree.describe(path)): left out \(result.refused.count) entries: "
                                  + result.refused.prefix(5).joined(separator: "; "))
                    }
                    state.withLock { state in
                        state.names = result.entries.map(\.name)
                        state.entries = Dictionary(result.entries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
                    }
                } catch {
                    listing.withLock { $0 = nil }
                    throw error
                }
            }
            current = task
            return task
        }
        try await task.value
    }
}
