import CFuse
import Glibc

/// The libfuse callback table. Built here, in nonisolated library code: closures written in
/// `main.swift` would be MainActor-isolated and trap on libfuse's threads.
enum FuseOperations {
    static func make() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { _, conn in
            guard let conn else { return }
            conn.pointee.want |= UInt32(FUSE_CAP_READDIRPLUS)
            conn.pointee.want &= ~UInt32(FUSE_CAP_READDIRPLUS_AUTO)  // always plus: attributes come free
            conn.pointee.max_readahead = UInt32(FuseFilesystem.maxRead)
            conn.pointee.max_read = UInt32(FuseFilesystem.maxRead)  // must match the max_read mount option
            // The kernel's default of 12 background requests (readahead) lets a few slow
            // fetches hold back every other reader's readahead.
            conn.pointee.max_background = 32
            conn.pointee.congestion_threshold = 24
        }
        ops.lookup = { req, parent, name in
            guard let req, let name else { return }
            FuseFilesystem.from(req).lookup(FuseRequest(raw: req), parent: parent, name: String(cString: name))
        }
        ops.forget = { req, inode, count in
            guard let req else { return }
            FuseFilesystem.from(req).forget(inode, count: count)
            fuse_reply_none(req)
        }
        ops.forget_multi = { req, count, forgets in
            guard let req else { return }
            let filesystem = FuseFilesystem.from(req)
            for item in UnsafeBufferPointer(start: forgets, count: count) {
                filesystem.forget(item.ino, count: item.nlookup)
            }
            fuse_reply_none(req)
        }
        ops.getattr = { req, inode, _ in
            guard let req else { return }
            FuseFilesystem.from(req).getattr(FuseRequest(raw: req), inode: inode)
        }
        ops.open = { req, inode, info in
            guard let req, let info else { return }
            FuseFilesystem.from(req).open(FuseRequest(raw: req), inode: inode, info: info)
        }
        ops.read = { req, inode, size, offset, info in
            guard let req, let info else { return }
            FuseFilesystem.from(req).read(FuseRequest(raw: req), inode: inode, size: size, offset: Int(offset), info: info)
        }
        ops.release = { req, _, info in
            guard let req, let info else { return }
            FuseFilesystem.from(req).release(FuseRequest(raw: req), info: info)
        }
        ops.opendir = { req, inode, info in
            guard let req, let info else { return }
            FuseFilesystem.from(req).opendir(FuseRequest(raw: req), inode: inode, info: info)
        }
        ops.readdir = { req, inode, size, offset, info in
            guard let req, let info else { return }
            FuseFilesystem.from(req).readdir(FuseRequest(raw: req), inode: inode, size: size, offset: Int(offset), info: info, plus: false)
        }
        ops.readdirplus = { req, inode, size, offset, info in
            guard let req, let info else { return }
            FuseFilesystem.from(req).readdir(FuseRequest(raw: req), inode: inode, size: size, offset: Int(offset), info: info, plus: true)
        }
        ops.releasedir = { req, _, info in
            guard let req, let info else { return }
            FuseFilesystem.from(req).releasedir(FuseRequest(raw: req), info: info)
        }
        ops.statfs = { req, _ in
            guard let req else { return }
            FuseFilesystem.from(req).statfs(FuseRequest(raw: req))
        }
        ops.access = { req, inode, mask in
            guard let req else { return }
            FuseFilesystem.from(req).access(FuseRequest(raw: req), inode: inode, mask: mask)
        }
        // No getxattr/listxattr handlers: libfuse answers ENOSYS once and the kernel stops asking,
        // where ENODATA would cost a round trip per file (and per ACL check) on every `ls -l`.
        // Read-only: every call that would change something.
        ops.setattr = { req, _, _, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.mknod = { req, _, _, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.mkdir = { req, _, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.unlink = { req, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.rmdir = { req, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.symlink = { req, _, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.rename = { req, _, _, _, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.link = { req, _, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.write = { req, _, _, _, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.create = { req, _, _, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.setxattr = { req, _, _, _, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.removexattr = { req, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        ops.fallocate = { req, _, _, _, _, _ in if let req { fuse_reply_err(req, EROFS) } }
        return ops
    }
}
