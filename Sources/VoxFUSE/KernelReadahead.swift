import Foundation

/// Raises the kernel's readahead for the new mount from its 128 KiB default to `max_read`.
///
/// FUSE can only lower the readahead it is given, and the default splits a sequential reader
/// into 128 KiB requests, each a round trip through the daemon; 1 MiB nearly doubles
/// sequential throughput. The knob is the mount's backing device in sysfs, writable by root
/// only: for other users this does nothing.
enum KernelReadahead {
    /// Call after the kernel mount exists and before the session answers INIT (stat on the
    /// mount point would wait for the daemon, so the device comes from mountinfo).
    static func raise(mountpoint: String, kilobytes: Int) {
        guard let device = device(of: mountpoint) else { return }
        let path = "/sys/class/bdi/\(device)/read_ahead_kb"
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        try? handle.write(contentsOf: Data("\(kilobytes)\n".utf8))
    }

    /// `major:minor` of the newest voxfs mount at `mountpoint`, from /proc/self/mountinfo.
    static func device(of mountpoint: String, mountinfo: String? = nil) -> String? {
        guard let text = mountinfo ?? (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) else { return nil }
        let escaped = mountpoint.replacingOccurrences(of: "\\", with: "\\134").replacingOccurrences(of: " ", with: "\\040")
            .replacingOccurrences(of: "\t", with: "\\011").replacingOccurrences(of: "\n", with: "\\012")
        var found: String?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 6, fields[4] == escaped, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count,
                  fields[dash + 1].hasPrefix("fuse") else { continue }
            found = String(fields[2])
        }
        return found
    }
}
