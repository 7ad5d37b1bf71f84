import CFuse
import Glibc
import Synchronization
import VoxNamespace
import VoxTransport
import VoxViews

/// A copy of libfuse's per-open flags, carried to the task that answers an open.
private struct FileInfo: @unchecked Sendable {
    var value: fuse_file_info
}

/// Serves a virtual tree through the libfuse low-level API.
///
/// Metadata calls are answered on libfuse's thread from in-memory state. Reads are handed to
/// Swift tasks and answered from them, so no libfuse worker waits on a fetch; an interrupt
/// from the kernel cancels the task.
public final class FuseFilesystem: Sendable {
    /// The data never changes: let the kernel cache names, attributes and pages for a day.
    static let cacheSeconds = 86_400.0
    static let maxRead = 1 << 20

    private let inodes: Mutex<InodeTable>
    private let openDirectories = Mutex<[UInt64: [String]]>([:])
    private let nextHandle = Atomic<UInt64>(1)
    private let reads = Mutex<[UInt64: Task<Void, Never>]>([:])
    /// What each open handle of a live file reads: one consistent snapshot per open.
    private let liveSnapshots = Mutex<[UInt64: [UInt8]]>([:])
    public let served: ServedCounters
    private let mountTime = time(nil)
    private let owner = (uid: getuid(), gid: getgid())

    public init(root: VirtualNode, served: ServedCounters = ServedCounters()) {
        inodes = Mutex(InodeTable(root: root))
        self.served = served
    }

    // MARK: attributes

    func attributes(_ inode: UInt64, _ node: VirtualNode) -> stat {
        var attr = stat()
        attr.st_ino = UInt(inode)
        attr.st_uid = owner.uid
        attr.st_gid = owner.gid
        var modified = mountTime
        if case let .file(view) = node, let time = view.modificationTime { modified = time }
        attr.st_atim.tv_sec = modified
        attr.st_mtim.tv_sec = modified
        attr.st_ctim.tv_sec = modified
        attr.st_blksize = Int(Self.maxRead)
        switch node {
        case .directory:
            attr.st_mode = S_IFDIR | 0o555
            attr.st_nlink = 2
        case let .file(view):
            attr.st_mode = S_IFREG | 0o444
            attr.st_nlink = 1
            attr.st_size = off_t(view.size)
            attr.st_blocks = blkcnt_t((view.size + 511) / 512)
        case let .liveFile(snapshot):
            attr.st_mode = S_IFREG | 0o444
            attr.st_nlink = 1
            attr.st_size = off_t(snapshot().count)
        }
        return attr
    }

    /// Live files change: the kernel must ask again every time.
    func attributeTimeout(_ node: VirtualNode) -> Double {
        if case .liveFile = node { return 0 }
        return Self.cacheSeconds
    }

    func entry(_ inode: UInt64, _ node: VirtualNode) -> fuse_entry_param {
        var entry = fuse_entry_param()
        entry.ino = inode
        entry.attr = attributes(inode, node)
        entry.attr_timeout = attributeTimeout(node)
        entry.entry_timeout = Self.cacheSeconds
        return entry
    }

    // MARK: operations

    func lookup(_ request: FuseRequest, parent: UInt64, name: String) {
        if let directory = unpreparedDirectory(parent, for: name) {
            return afterPreparing(directory, for: name, request) { self.lookup(request, parent: parent, name: name) }
        }
        let found = inodes.withLock { table in
            table.lookup(parent: parent, name: name) { parentNode in
                guard case let .directory(directory) = parentNode else { return nil }
                return directory.child(named: name)
            }
        }
        guard let (inode, node) = found else {
            if case let .directory(directory)? = inodes.withLock({ $0[parent]?.node }), let code = directory.refusal(for: name) {
                return request.fail(code)
            }
            // A negative entry with a timeout: the kernel will not ask again.
            var negative = fuse_entry_param()
            negative.entry_timeout = Self.cacheSeconds
            fuse_reply_entry(request.raw, &negative)
            return
        }
        var reply = entry(inode, node)
        fuse_reply_entry(request.raw, &reply)
    }

    func forget(_ inode: UInt64, count: UInt64) {
        inodes.withLock { $0.forget(inode, count: count) }
    }

    func getattr(_ request: FuseRequest, inode: UInt64) {
        guard let node = inodes.withLock({ $0[inode]?.node }) else { return request.fail(ENOENT) }
        var attr = attributes(inode, node)
        fuse_reply_attr(request.raw, &attr, attributeTimeout(node))
    }

    func open(_ request: FuseRequest, inode: UInt64, info: UnsafeMutablePointer<fuse_file_info>) {
        guard let node = inodes.withLock({ $0[inode]?.node }) else { return request.fail(ENOENT) }
        let mode = voxfs_fi_flags(info) & O_ACCMODE
        guard mode == O_RDONLY, voxfs_fi_flags(info) & O_TRUNC == 0 else { return request.fail(EROFS) }
        switch node {
        case .directory:
            return request.fail(EISDIR)
        case .file:
            voxfs_fi_set_keep_cache(info)
        case let .liveFile(snapshot):
            // direct_io: reads go past the size the kernel last saw, and nothing is cached.
            let handle = nextHandle.add(1, ordering: .relaxed).newValue
            liveSnapshots.withLock { $0[handle] = snapshot() }
            voxfs_fi_set_fh(info, handle)
            voxfs_fi_set_direct_io(info)
        }
        fuse_reply_open(request.raw, info)
    }

    func release(_ request: FuseRequest, info: UnsafeMutablePointer<fuse_file_info>) {
        _ = liveSnapshots.withLock { $0.removeValue(forKey: voxfs_fi_fh(info)) }
        request.fail(0)
    }

    func read(_ request: FuseRequest, inode: UInt64, size: Int, offset: Int, info: UnsafeMutablePointer<fuse_file_info>) {
        if let snapshot = liveSnapshots.withLock({ $0[voxfs_fi_fh(info)] }) {
            let start = min(offset, snapshot.count)
            return request.reply(bytes: Array(snapshot[start..<min(start + size, snapshot.count)]))
        }
        guard let node = inodes.withLock({ $0[inode] }) else { return request.fail(ENOENT) }
        guard case let .file(view) = node.node else { return request.fail(EISDIR) }
        if let bytes = view.readIfCached(offset: offset, count: size) {
            served.reads.add(1, ordering: .relaxed)
            served.bytes.add(bytes.count, ordering: .relaxed)
            return request.reply(bytes: bytes)
        }
        let path = node.path
        let id = nextHandle.add(1, ordering: .relaxed).newValue
        // Register before the task exists: once it replies, the request is freed and must not be touched.
        fuse_req_interrupt_func(request.raw, { request, data in
            guard let request, let data else { return }
            let id = UInt64(UInt(bitPattern: data))
            FuseFilesystem.from(request).reads.withLock { $0[id] }?.cancel()
        }, UnsafeMutableRawPointer(bitPattern: UInt(id)))
        reads.withLock { reads in
            // Created under the lock, so the task cannot remove itself before it is registered.
            reads[id] = Task {
                defer { _ = self.reads.withLock { $0.removeValue(forKey: id) } }
                do {
                    let bytes = try await view.read(offset: offset, count: size)
                    if Task.isCancelled { return request.fail(EINTR) }
                    self.served.reads.add(1, ordering: .relaxed)
                    self.served.bytes.add(bytes.count, ordering: .relaxed)
                    request.reply(bytes: bytes)
                } catch is CancellationError {
                    request.fail(EINTR)
                } catch {
                    self.served.errors.add(1, ordering: .relaxed)
                    Log.error("read \(path) [\(offset), \(offset + size)): \(error)")
                    request.fail(Self.errno(for: error))
                }
            }
        }
    }

    func opendir(_ request: FuseRequest, inode: UInt64, info: UnsafeMutablePointer<fuse_file_info>) {
        guard let node = inodes.withLock({ $0[inode]?.node }) else { return request.fail(ENOENT) }
        guard case let .directory(directory) = node else { return request.fail(ENOTDIR) }
        if !directory.isReady(for: nil) {
            // libfuse's `info` lives on its stack: answer later with a copy.
            let copy = FileInfo(value: info.pointee)
            return afterPreparing(directory, for: nil, request) {
                var info = copy.value
                self.open(directory, request, info: &info)
            }
        }
        open(directory, request, info: info)
    }

    private func open(_ directory: any VirtualDirectory, _ request: FuseRequest, info: UnsafeMutablePointer<fuse_file_info>) {
        let handle = nextHandle.add(1, ordering: .relaxed).newValue
        openDirectories.withLock { $0[handle] = [".", ".."] + directory.entryNames() }
        voxfs_fi_set_fh(info, handle)
        voxfs_fi_set_cache_readdir(info)
        fuse_reply_open(request.raw, info)
    }

    func releasedir(_ request: FuseRequest, info: UnsafeMutablePointer<fuse_file_info>) {
        _ = openDirectories.withLock { $0.removeValue(forKey: voxfs_fi_fh(info)) }
        request.fail(0)
    }

    /// Fills one reply buffer with entries from `offset` on; `plus` also returns attributes
    /// (and counts a lookup for each entry but `.` and `..`, as the kernel expects).
    func readdir(_ request: FuseRequest, inode: UInt64, size: Int, offset: Int, info: UnsafeMutablePointer<fuse_file_info>, plus: Bool) {
        guard let names = openDirectories.withLock({ $0[voxfs_fi_fh(info)] }) else { return request.fail(EBADF) }
        var buffer = [CChar](repeating: 0, count: size)
        var used = 0
        var index = offset
        while index < names.count {
            let name = names[index]
            var added = 0
            if plus {
                var param: fuse_entry_param
                var counted: UInt64?
                if index < 2 {
                    param = fuse_entry_param()
                    param.attr.st_ino = UInt(inode)
                    param.attr.st_mode = S_IFDIR
                } else {
                    let found = inodes.withLock { table in
                        table.lookup(parent: inode, name: name) { parentNode in
                            guard case let .directory(directory) = parentNode else { return nil }
                            return directory.child(named: name)
                        }
                    }
                    if let (child, node) = found {
                        param = entry(child, node)
                        counted = child
                    } else if unpreparedDirectory(inode, for: name) != nil {
                        // Known by name only (its size needs a request): a plain entry, and the
                        // kernel looks it up when it needs the attributes. Its d_ino must not be
                        // 0, which readdir(3) skips.
                        param = fuse_entry_param()
                        param.attr.st_ino = UInt(index + 1)
                    } else {
                        index += 1
                        continue
                    }
                }
                added = buffer.withUnsafeMutableBufferPointer { out in
                    fuse_add_direntry_plus(request.raw, out.baseAddress! + used, size - used, name, &param, off_t(index + 1))
                }
                if used + added > size, let counted {
                    forget(counted, count: 1)  // did not fit: the kernel never saw this lookup
                }
            } else {
                var attr = stat()
                attr.st_ino = UInt(index + 1)
                added = buffer.withUnsafeMutableBufferPointer { out in
                    fuse_add_direntry(request.raw, out.baseAddress! + used, size - used, name, &attr, off_t(index + 1))
                }
            }
            if used + added > size { break }
            used += added
            index += 1
        }
        buffer.withUnsafeBufferPointer { _ = fuse_reply_buf(request.raw, $0.baseAddress, used) }
    }

    func statfs(_ request: FuseRequest) {
        var info = statvfs()
        info.f_bsize = UInt(Self.maxRead)
        info.f_frsize = 512
        info.f_files = UInt(inodes.withLock { $0.count })
        info.f_namemax = 255
        info.f_flag = UInt(ST_RDONLY)
        fuse_reply_statfs(request.raw, &info)
    }

    func access(_ request: FuseRequest, inode: UInt64, mask: Int32) {
        guard inodes.withLock({ $0[inode] }) != nil else { return request.fail(ENOENT) }
        request.fail(mask & W_OK != 0 ? EROFS : 0)
    }

    /// The directory at `inode`, if it must fetch something before it can answer for `name`.
    private func unpreparedDirectory(_ inode: UInt64, for name: String?) -> (any VirtualDirectory)? {
        guard case let .directory(directory)? = inodes.withLock({ $0[inode]?.node }), !directory.isReady(for: name) else {
            return nil
        }
        return directory
    }

    /// Lets `directory` list itself (or size a child) in a task, then answers with `then`,
    /// or EIO with a log line when that fails: the FUSE thread never waits on the network.
    private func afterPreparing(
        _ directory: any VirtualDirectory, for name: String?, _ request: FuseRequest, then: @escaping @Sendable () -> Void
    ) {
        Task {
            do {
                try await directory.prepare(for: name)
            } catch {
                self.served.errors.add(1, ordering: .relaxed)
                Log.error(name.map { "lookup of '\($0)': \(error)" } ?? "listing: \(error)")
                return request.fail(EIO)
            }
            then()
        }
    }

    /// What a reader sees for a failed read: the server's refusals keep their meaning
    /// (403 is EACCES, 413 EFBIG, 429 after retries EAGAIN); everything else is EIO.
    static func errno(for error: any Error) -> Int32 {
        switch (error as? StoreError)?.status {
        case 403?, 401?: EACCES
        case 413?: EFBIG
        case 429?: EAGAIN
        default: EIO
        }
    }

    /// The filesystem a request belongs to: the session's userdata.
    static func from(_ request: fuse_req_t) -> FuseFilesystem {
        Unmanaged<FuseFilesystem>.fromOpaque(fuse_req_userdata(request)!).takeUnretainedValue()
    }
}
