import VoxNamespace

/// Inode numbers for the paths the kernel knows about, with lookup counts (freed on forget).
///
/// A path keeps its inode and node while the kernel holds a reference, so per-file state
/// (e.g. PNG band checksums) lives exactly as long as the kernel's dentry.
struct InodeTable {
    struct Entry {
        var path: String
        var node: VirtualNode
        var parent: UInt64
        var lookups: UInt64
    }

    static let rootInode: UInt64 = 1
    private var entries: [UInt64: Entry]
    private var byPath: [String: UInt64] = [:]
    private var nextInode: UInt64 = 2

    init(root: VirtualNode) {
        entries = [Self.rootInode: Entry(path: "", node: root, parent: Self.rootInode, lookups: 1)]
        byPath[""] = Self.rootInode
    }

    subscript(inode: UInt64) -> Entry? { entries[inode] }

    var count: Int { entries.count }

    /// The inode for `name` under `parent`, counting one lookup. `make` builds the node only
    /// when the path is not known yet.
    mutating func lookup(parent: UInt64, name: String, make: (VirtualNode) -> VirtualNode?) -> (UInt64, VirtualNode)? {
        guard let parentEntry = entries[parent] else { return nil }
        let path = parentEntry.path + "/" + name
        if let inode = byPath[path], var entry = entries[inode] {
            entry.lookups += 1
            entries[inode] = entry
            return (inode, entry.node)
        }
        guard let node = make(parentEntry.node) else { return nil }
        let inode = nextInode
        nextInode += 1
        entries[inode] = Entry(path: path, node: node, parent: parent, lookups: 1)
        byPath[path] = inode
        return (inode, node)
    }

    mutating func forget(_ inode: UInt64, count: UInt64) {
        guard inode != Self.rootInode, var entry = entries[inode] else { return }
        entry.lookups -= min(count, entry.lookups)
        if entry.lookups == 0 {
            entries.removeValue(forKey: inode)
            byPath.removeValue(forKey: entry.path)
        } else {
            entries[inode] = entry
        }
    }
}
