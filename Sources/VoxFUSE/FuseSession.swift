import CFuse
import Glibc
import VoxNamespace

/// Mounts a filesystem, runs libfuse's multithreaded loop until unmounted or signalled
/// (SIGINT, SIGTERM, SIGHUP), then unmounts cleanly.
public enum FuseSession {
    public struct MountError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Whether `path` is the root of a live FUSE mount (statfs goes through the daemon).
    public static func isFuseMount(_ path: String) -> Bool {
        var info = statfs()
        return statfs(path, &info) == 0 && info.f_type == 0x6573_5546  // FUSE_SUPER_MAGIC
    }

    /// Whether `path` is a FUSE mount whose daemon is gone (statfs: ENOTCONN).
    public static func isDeadMount(_ path: String) -> Bool {
        var info = statfs()
        return statfs(path, &info) != 0 && errno == ENOTCONN
    }

    /// - Parameters:
    ///   - options: extra `-o` options from the user.
    ///   - readaheadKilobytes: the kernel's readahead for the mount (at most `max_read`);
    ///     nil keeps the kernel's 128 KiB.
    ///   - onMounted: called once the kernel mount exists, before the loop serves requests.
    public static func run(
        _ filesystem: FuseFilesystem, mountpoint: String, options: [String], readaheadKilobytes: Int?, onMounted: () -> Void
    ) throws(MountError) {
        let arguments = ["voxfs", "-o", "ro,default_permissions,fsname=voxfs,subtype=voxfs,max_read=\(FuseFilesystem.maxRead)"]
            + options.flatMap { ["-o", $0] }
        var args = fuse_args()
        for argument in arguments { fuse_opt_add_arg(&args, argument) }
        defer { fuse_opt_free_args(&args) }

        var ops = FuseOperations.make()
        let userdata = Unmanaged.passRetained(filesystem)
        defer { userdata.release() }
        guard let session = voxfs_fuse_session_new(&args, &ops, userdata.toOpaque()) else {
            throw MountError(description: "mount options \(options) were not accepted by libfuse")
        }
        defer { fuse_session_destroy(session) }
        guard fuse_set_signal_handlers(session) == 0 else {
            throw MountError(description: "could not install signal handlers")
        }
        defer { fuse_remove_signal_handlers(session) }
        guard fuse_session_mount(session, mountpoint) == 0 else {
            throw MountError(description: "\(mountpoint): mount failed (is it an existing directory, and is /dev/fuse usable?)")
        }
        defer { fuse_session_unmount(session) }
        if let readaheadKilobytes {
            KernelReadahead.set(mountpoint: mountpoint, kilobytes: min(readaheadKilobytes, FuseFilesystem.maxRead >> 10))
        }
        onMounted()
        _ = voxfs_fuse_session_loop_mt(session, 8)
    }
}
