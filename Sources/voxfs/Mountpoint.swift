import Foundation
import Glibc
import VoxFUSE

/// Checks on the directory a mount goes on.
enum Mountpoint {
    /// The absolute form of `path`.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let cwd = FileManager.default.currentDirectoryPath
        return (cwd == "/" ? "" : cwd) + "/" + path
    }

    /// Throws a one-line reason when `path` cannot take a new mount.
    static func checkUsable(_ path: String) throws {
        var info = stat()
        if stat(path, &info) != 0 {
            switch errno {
            case ENOENT: throw UserFacingError("mount point \(path) does not exist")
            case ENOTCONN: throw UserFacingError("mount point \(path) is a dead FUSE mount: run 'voxfs unmount \(path)' first")
            default: throw UserFacingError("mount point \(path): \(String(cString: strerror(errno)))")
            }
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw UserFacingError("mount point \(path) is not a directory") }
        if isFuseMount(path) { throw UserFacingError("mount point \(path) is already a FUSE mount") }
        // A daemon that was killed leaves its mount listed; stat may still answer from the
        // kernel's cache, but statfs cannot. Mounting on top would hide it, not clear it.
        if isListedMount(path), FuseSession.isDeadMount(path) {
            throw UserFacingError("mount point \(path) is a dead FUSE mount: run 'voxfs unmount \(path)' first")
        }
    }

    static func isFuseMount(_ path: String) -> Bool {
        FuseSession.isFuseMount(path)
    }

    /// Whether `path` is listed in /proc/mounts (true for dead mounts too).
    static func isListedMount(_ path: String) -> Bool {
        guard let file = fopen("/proc/mounts", "r") else { return false }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            let fields = String(cString: line!).split(separator: " ")
            // /proc/mounts escapes spaces as \040.
            if fields.count > 1, fields[1].replacingOccurrences(of: "\\040", with: " ") == path { return true }
        }
        return false
    }
}

