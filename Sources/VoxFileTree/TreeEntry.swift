import VoxTransport

/// One name in a remote directory, as its listing describes it.
public struct TreeEntry: Sendable, Equatable, Codable {
    public enum Kind: Sendable, Equatable, Codable {
        case directory
        /// A file; `version` is nil when the listing gave no exact size (then a HEAD tells).
        case file(ObjectVersion?)
    }

    public var name: String
    public var kind: Kind
    /// Seconds since the epoch, when the listing says.
    public var modified: Int?

    public init(name: String, kind: Kind, modified: Int? = nil) {
        self.name = name
        self.kind = kind
        self.modified = modified
    }

    public var isDirectory: Bool { kind == .directory }
}

/// Why a listing entry is not shown: a name from a server must be one plain path component.
enum EntryName {
    static let maxBytes = 255

    /// nil when `name` is safe, else the reason it is refused.
    static func problem(_ name: String) -> String? {
        if name.isEmpty { return "empty name" }
        if name == "." || name == ".." { return "name '\(name)'" }
        if name.utf8.contains(0) { return "NUL in name" }
        if name.contains("/") { return "'/' in name '\(name)'" }
        if name.utf8.count > maxBytes { return "name longer than \(maxBytes) bytes" }
        return nil
    }
}

/// A parsed listing: the entries that passed, and why the others were refused.
public struct Listing: Sendable, Equatable, Codable {
    public private(set) var entries: [TreeEntry] = []
    public var refused: [String] = []
    /// Position of each name in `entries`.
    private var positions: [String: Int] = [:]

    public init(entries: [TreeEntry] = [], refused: [String] = []) {
        self.refused = refused
        for entry in entries { add(entry) }
    }

    private enum CodingKeys: String, CodingKey { case entries, refused }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(entries: try container.decode([TreeEntry].self, forKey: .entries),
                  refused: try container.decode([String].self, forKey: .refused))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entries, forKey: .entries)
        try container.encode(refused, forKey: .refused)
    }

    /// Adds the entries of another page of the same directory.
    mutating func append(_ page: Listing) {
        for entry in page.entries { add(entry) }
        refused += page.refused
    }

    /// Adds `entry` unless its name is unsafe or already listed (a file and a directory of
    /// one name, as S3 allows, keep the directory).
    mutating func add(_ entry: TreeEntry) {
        if let problem = EntryName.problem(entry.name) {
            refused.append(problem)
            return
        }
        if let index = positions[entry.name] {
            if entry.isDirectory { entries[index] = entry }
            refused.append("'\(entry.name)' listed twice")
            return
        }
        positions[entry.name] = entries.count
        entries.append(entry)
    }
}

/// A listing could not be used at all.
public struct ListingError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
