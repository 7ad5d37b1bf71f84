import Foundation
import VoxCache

/// Where the disk cache lives and how large it may grow.
enum CacheLocation {
    /// `$XDG_CACHE_HOME/voxfs`, else `~/.cache/voxfs`.
    static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/voxfs" }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/voxfs"
    }

    static func expand(_ path: String) -> String {
        if path == "~" || path.hasPrefix("~/") {
            return FileManager.default.homeDirectoryForCurrentUser.path + path.dropFirst()
        }
        return Mountpoint.absolute(path)
    }

    /// 10 GiB or 10% of the free space where the cache lives, whichever is smaller.
    static func defaultSize(directory: String) -> Int {
        var probe = directory
        var info = statvfs()
        while statvfs(probe, &info) != 0, probe != "/" { probe = (probe as NSString).deletingLastPathComponent }
        let free = Int(info.f_bavail) * Int(info.f_frsize)
        return min(10 << 30, free / 10)
    }

    static func open(directory: String?, size: Int?, writeBuffer: Int = 8 << 20) throws -> DiskCache {
        let directory = expand(directory ?? defaultDirectory())
        do {
            return try DiskCache(directory: directory, capacity: size ?? defaultSize(directory: directory), writeBufferBytes: writeBuffer)
        } catch {
            throw UserFacingError("cache directory \(directory): \(error)")
        }
    }
}
