import VoxViews

/// An entry of the virtual tree: a directory, or a file with an exact size.
public enum VirtualNode: Sendable {
    case directory(any VirtualDirectory)
    case file(any FileView)
    /// A file whose content changes (live counters): each open reads a fresh snapshot.
    case liveFile(@Sendable () -> [UInt8])
}

/// A directory whose children are computed on demand: a scale can hold tens of thousands of slices.
public protocol VirtualDirectory: Sendable {
    /// Names in listing order.
    func entryNames() -> [String]
    /// A child by name, including names that resolve but are not listed (e.g. unpadded z numbers).
    func child(named name: String) -> VirtualNode?
    /// Why a name that `child(named:)` does not resolve is refused, when that is not plain
    /// ENOENT (a cutout too large to serve is EFBIG).
    func refusal(for name: String) -> Int32?
    /// Whether `entryNames()` (name nil) or `child(named: name)` can answer now, without the
    /// network. A remote directory is not ready until it has been listed.
    func isReady(for name: String?) -> Bool
    /// Does the network work that makes `isReady(for: name)` true: lists the directory, or
    /// asks the server for the size of one file. Runs off the FUSE threads.
    func prepare(for name: String?) async throws
}

extension VirtualDirectory {
    public func refusal(for name: String) -> Int32? { nil }
    public func isReady(for name: String?) -> Bool { true }
    public func prepare(for name: String?) async throws {}
}

/// A directory with a fixed set of children: the skeleton above the mounted layers.
public struct FixedDirectory: VirtualDirectory {
    public let children: [(String, VirtualNode)]
    /// Children that resolve by name but are not listed (`/.voxfs`).
    public let hidden: [(String, VirtualNode)]

    public init(_ children: [(String, VirtualNode)], hidden: [(String, VirtualNode)] = []) {
        self.children = children
        self.hidden = hidden
    }

    public func entryNames() -> [String] { children.map(\.0) }

    public func child(named name: String) -> VirtualNode? {
        (children.first { $0.0 == name } ?? hidden.first { $0.0 == name })?.1
    }
}
