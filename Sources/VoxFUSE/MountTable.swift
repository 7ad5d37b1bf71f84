import Foundation

/// The kernel's table of mounts (`/proc/self/mountinfo`), as far as voxfs needs it.
public struct MountTable: Sendable {
    public struct Entry: Sendable, Equatable {
        /// `major:minor` of the mount's device (its backing device in sysfs).
        public var device: String
        public var mountpoint: String
        /// e.g. `fuse.voxfs`.
        public var type: String
    }

    public var entries: [Entry]

    /// The current table; empty when it cannot be read.
    public static func current() -> MountTable {
        MountTable(parsing: (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "")
    }

    public init(parsing mountinfo: String) {
        entries = mountinfo.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 6, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { return nil }
            return Entry(device: String(fields[2]), mountpoint: Self.unescape(fields[4]), type: String(fields[dash + 1]))
        }
    }

    /// Live voxfs mounts, oldest first.
    public var voxfsMounts: [Entry] { entries.filter { $0.type == "fuse.voxfs" } }

    /// mountinfo writes space, tab, newline and backslash as octal escapes.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3, let code = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(code)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
