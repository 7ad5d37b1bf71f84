import Foundation

/// Sets the kernel's readahead for the new mount (128 KiB by default).
///
/// FUSE can only lower the readahead it is given, and the default splits a sequential reader
/// into 128 KiB requests, each a round trip through the daemon. The knob is the mount's
/// backing device in sysfs, writable by root only: for other users this does nothing.
enum KernelReadahead {
    /// Call after the kernel mount exists and before the session answers INIT (stat on the
    /// mount point would wait for the daemon, so the device comes from mountinfo).
    static func set(mountpoint: String, kilobytes: Int) {
        guard let mount = MountTable.current().entries.last(where: { $0.mountpoint == mountpoint && $0.type.hasPrefix("fuse") }),
              let handle = FileHandle(forWritingAtPath: "/sys/class/bdi/\(mount.device)/read_ahead_kb") else { return }
        defer { try? handle.close() }
        try? handle.write(contentsOf: Data("\(kilobytes)\n".utf8))
    }
}
