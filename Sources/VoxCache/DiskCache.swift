import Dispatch
import Glibc
import Foundation
import Synchronization

/// A persistent, size-bounded LRU of entries on local disk, safe to share between processes.
///
/// - The index is SQLite (WAL): startup reads no directory, and every change of the size
///   accounting happens in one `BEGIN IMMEDIATE` transaction, so two processes sharing the
///   directory never overrun the bound together.
/// - Each entry is one file, written to a temporary name and renamed into place, and carries
///   its key and a checksum: a torn, stale or foreign file is detected, dropped and never served.
/// - Space is reserved in the index before the file is written, and evicted files are removed
///   before the reservation commits: the files on disk never exceed the bound by more than
///   the entry being written.
public final class DiskCache: Sendable {
    public let directory: String
    public let capacity: Int
    /// Writes stop (reads still work, uncached) when the filesystem would fall below this.
    public let minimumFreeBytes: Int
    public let counters = DiskCacheCounters()

    private let database: Mutex<SQLiteDatabase>
    /// A second connection for the readers' lookups: WAL lets it read while the writer's
    /// connection commits or checkpoints, so a cache miss never waits behind a disk flush.
    private let lookups: Mutex<SQLiteDatabase>
    private let touched = Mutex<[Int: Int]>([:])
    /// Counter values already added to the lifetime totals in the index.
    private let persisted = Mutex(DiskCacheCounters.Snapshot())
    private let writer = DispatchQueue(label: "voxfs.disk-cache.writer")
    /// Blocking file reads run here, not on Swift's cooperative pool (one thread per core),
    /// so a read waiting on the disk never idles a core that could be encoding.
    ///
    /// Several serial queues, not one concurrent queue: on Linux a concurrent queue runs no
    /// more blocks at once than there are cores, so as many reads waiting on the disk hold
    /// every other read back, while each serial queue gets a thread of its own. A layer of
    /// chunks read from a cold disk cache loads several times faster with eight reads in flight.
    /// Each read goes to the queue with the fewest waiting, so one slow read delays no other.
    private static let readers = (0..<8).map { DispatchQueue(label: "voxfs.disk-cache.reader.\($0)") }
    /// Reads queued or running on each of `readers`.
    private static let readersBusy = Mutex([Int](repeating: 0, count: readers.count))
    /// Bytes of entries waiting to be written: readers wait when it is full, so a fast reader
    /// cannot pile up unbounded memory behind the disk.
    private let pendingWrites: ByteLimiter
    private let queuedWrites = Atomic<Int>(0)
    private static let blockSize = 4096

    public init(directory: String, capacity: Int, minimumFreeBytes: Int = 1 << 30, writeBufferBytes: Int = 64 << 20) throws {
        self.directory = directory
        self.pendingWrites = ByteLimiter(capacity: writeBufferBytes)
        self.capacity = capacity
        self.minimumFreeBytes = minimumFreeBytes
        try FileManager.default.createDirectory(atPath: directory + "/objects", withIntermediateDirectories: true)
        let database = try SQLiteDatabase(path: directory + "/index.sqlite")
        try database.execute("""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            PRAGMA wal_autocheckpoint = 64;
            PRAGMA journal_size_limit = \(Self.walLimit);
            CREATE TABLE IF NOT EXISTS entries (
                id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, size INTEGER NOT NULL,
                last_access INTEGER NOT NULL, ready INTEGER NOT NULL, owner INTEGER NOT NULL DEFAULT 0);
            CREATE INDEX IF NOT EXISTS entries_by_access ON entries (ready, last_access);
            CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO totals VALUES ('bytes', 0);
            """)
        self.database = Mutex(database)
        self.lookups = Mutex(try SQLiteDatabase(path: directory + "/index.sqlite"))
        // Made once here, not per write: in a new cache every one of the first 256 entries
        // would otherwise create a directory as well as its file.
        for shard in 0..<Self.shardCount { mkdir(shardDirectory(shard), 0o755) }
        writer.async { [self] in removeLeftovers() }
    }

    // MARK: reading

    /// `read(_:)` off the cooperative pool.
    public func load(_ key: String) async -> DiskEntry? {
        let reader = Self.readersBusy.withLock { busy in
            let idlest = busy.indices.min { busy[$0] < busy[$1] }!
            busy[idlest] += 1
            return idlest
        }
        return await withCheckedContinuation { continuation in
            Self.readers[reader].async {
                let entry = self.read(key)
                Self.readersBusy.withLock { $0[reader] -= 1 }
                continuation.resume(returning: entry)
            }
        }
    }

    /// The entry for `key`, or nil when absent. A corrupt entry is counted, removed and
    /// reported as absent, so the caller fetches it again. Blocks on the disk.
    public func read(_ key: String) -> DiskEntry? {
        guard let row = try? lookups.withLock({ try $0.query("SELECT id FROM entries WHERE key = ? AND ready = 1", [.text(key)]) }).first else {
            counters.misses.add(1, ordering: .relaxed)
            return nil
        }
        let id = row[0].integer
        let entry: DiskEntry
        do {
            guard let read = try Self.readEntry(path(for: id), expectedKey: key) else {
                // Evicted by another process between the lookup and the open.
                counters.misses.add(1, ordering: .relaxed)
                return nil
            }
            entry = read.entry
            counters.bytesRead.add(read.bytes, ordering: .relaxed)
        } catch {
            counters.corrupt.add(1, ordering: .relaxed)
            counters.misses.add(1, ordering: .relaxed)
            writer.async { [self] in try? remove(id: id) }
            return nil
        }
        counters.hits.add(1, ordering: .relaxed)
        noteAccess(id)
        return entry
    }

    /// Reads header and key, then the payload into an array of its own; nil if the file is gone.
    private static func readEntry(_ path: String, expectedKey: String) throws(DiskEntryCodec.Corrupt) -> (entry: DiskEntry, bytes: Int)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let fileSize = Int(info.st_size)
        let prefixLength = min(fileSize, DiskEntryCodec.fixedHeaderLength + expectedKey.utf8.count)
        guard let prefix = readExactly(fd, prefixLength, at: 0) else { throw DiskEntryCodec.Corrupt(description: "short file") }
        let header = try DiskEntryCodec.header(prefix)
        guard header.payloadOffset == prefixLength, prefixLength + header.storedLength == fileSize,
              let payload = readExactly(fd, header.storedLength, at: prefixLength)
        else { throw DiskEntryCodec.Corrupt(description: "length mismatch") }
        return (try DiskEntryCodec.decode(header: header, prefix: prefix, payload: payload, expectedKey: expectedKey), fileSize)
    }

    private static func readExactly(_ fd: Int32, _ count: Int, at offset: Int) -> [UInt8]? {
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { failed = true; break }
                done += n
            }
            initialized = done
        }
        return failed ? nil : bytes
    }

    // MARK: writing

    /// Stores `entry` in the background. The caller waits only when the write buffer is full.
    public func store(_ key: String, _ entry: DiskEntry) async {
        enqueue(key, entry, taking: await pendingWrites.acquire(Self.bufferedSize(entry)))
    }

    /// Stores `entry` in the background if the write buffer has room, else drops it (counted
    /// in `skippedBusy`): for data a reader streams faster than the disk can take it, where
    /// waiting would slow every read to the disk's write speed.
    public func storeIfIdle(_ key: String, _ entry: DiskEntry) {
        guard let taken = pendingWrites.tryAcquire(Self.bufferedSize(entry), leaving: 0) else {
            counters.skippedBusy.add(1, ordering: .relaxed)
            return
        }
        enqueue(key, entry, taking: taken)
    }

    private static func bufferedSize(_ entry: DiskEntry) -> Int {
        if case let .bytes(bytes) = entry { return bytes.count }
        return 0
    }

    private func enqueue(_ key: String, _ entry: DiskEntry, taking taken: Int) {
        queuedWrites.add(1, ordering: .relaxed)
        writer.async { [self] in
            defer {
                pendingWrites.release(taken)
                queuedWrites.subtract(1, ordering: .relaxed)
            }
            try? write(key, entry)
        }
    }

    /// Entries handed to `store` or `storeIfIdle` and not yet written (or dropped): zero
    /// means everything read so far is on disk, which `voxfs prefetch` waits for.
    public var writesInProgress: Int { queuedWrites.load(ordering: .relaxed) }

    /// Waits until every `store` issued so far is on disk.
    public func flush() {
        writer.sync { flushAccessTimes() }
    }

    private func write(_ key: String, _ entry: DiskEntry) throws {
        let (head, payload) = DiskEntryCodec.encodeParts(key: key, entry: entry)
        let size = Self.onDisk(head.count + payload.count)
        guard freeBytes() - size >= minimumFreeBytes else {
            counters.skippedLowSpace.add(1, ordering: .relaxed)
            return
        }
        flushAccessTimes()
        let id: Int? = try database.withLock { database in
            try database.transaction {
                if let existing = try database.query("SELECT id, ready, owner, size FROM entries WHERE key = ?", [.text(key)]).first {
                    // Stored, or being written by a live process: nothing to do.
                    if existing[1].integer == 1 || Self.isAlive(existing[2].integer) { return nil }
                    // A reservation left by a process that died mid-write: take it over.
                    try release(database, id: existing[0].integer, size: existing[3].integer)
                }
                try evict(database, toFit: size)
                try database.query(
                    "INSERT INTO entries (key, size, last_access, ready, owner) VALUES (?, ?, ?, 0, ?)",
                    [.text(key), .integer(size), .integer(Self.now()), .integer(Int(getpid()))])
                try database.query("UPDATE totals SET value = value + ? WHERE name = 'bytes'", [.integer(size)])
                return try database.query("SELECT last_insert_rowid()")[0][0].integer
            }
        }
        guard let id else { return }  // another process stored it first
        let final = path(for: id)
        let temporary = directory + "/objects/tmp.\(getpid()).\(id)"
        do {
            try Self.writeFile(temporary, head, payload)
            // A shard directory removed behind our back is made again.
            guard rename(temporary, final) == 0
                || (errno == ENOENT && mkdir(shardDirectory(id % Self.shardCount), 0o755) == 0 && rename(temporary, final) == 0)
            else { throw CocoaError(.fileWriteUnknown) }
            _ = try database.withLock { database in
                try database.query("UPDATE entries SET ready = 1 WHERE id = ?", [.integer(id)])
                truncateLogIfLong(database)
            }
            counters.writes.add(1, ordering: .relaxed)
            counters.bytesWritten.add(head.count + payload.count, ordering: .relaxed)
        } catch {
            unlink(temporary)
            try? remove(id: id)
            throw error
        }
    }

    /// Drops least-recently-used entries until `size` more bytes fit, going down to 90% of
    /// the bound so that a full cache does not evict on every write. Runs inside the
    /// reserving transaction; files go before the rows do.
    private func evict(_ database: SQLiteDatabase, toFit size: Int) throws {
        let budget = capacity - indexBytes(walAtLeast: 2 * Self.walLimit)
        var total = try database.query("SELECT value FROM totals WHERE name = 'bytes'")[0][0].integer
        guard total + size > budget else { return }
        let target = budget / 10 * 9 - size
        let oldest = try database.query("SELECT id, size FROM entries WHERE ready = 1 ORDER BY last_access LIMIT 4096")
        var freed: [Int] = []
        for row in oldest where total > target {
            unlink(path(for: row[0].integer))
            freed.append(row[0].integer)
            total -= row[1].integer
        }
        for id in freed { try database.query("DELETE FROM entries WHERE id = ?", [.integer(id)]) }
        try database.query("UPDATE totals SET value = ? WHERE name = 'bytes'", [.integer(total)])
        counters.evictions.add(freed.count, ordering: .relaxed)
    }

    private func remove(id: Int) throws {
        try database.withLock { database in
            try database.transaction {
                guard let size = try database.query("SELECT size FROM entries WHERE id = ?", [.integer(id)]).first?[0].integer else { return }
                try release(database, id: id, size: size)
            }
        }
    }

    /// Deletes an entry's file and row and returns its space; inside a transaction.
    private func release(_ database: SQLiteDatabase, id: Int, size: Int) throws {
        unlink(path(for: id))
        try database.query("DELETE FROM entries WHERE id = ?", [.integer(id)])
        try database.query("UPDATE totals SET value = value - ? WHERE name = 'bytes'", [.integer(size)])
    }

    // MARK: recency

    /// Records a hit; access times are written in batches, not one transaction per read.
    private func noteAccess(_ id: Int) {
        let pending = touched.withLock { touched in
            touched[id] = Self.now()
            return touched.count
        }
        if pending >= 256 { writer.async { [self] in flushAccessTimes() } }
    }

    /// Writes batched access times, and adds this process's new counts to the lifetime totals.
    private func flushAccessTimes() {
        let batch = touched.withLock { touched in
            defer { touched.removeAll() }
            return touched
        }
        let now = counters.snapshot()
        let before = persisted.withLock { persisted in
            defer { persisted = now }
            return persisted
        }
        let deltas = [
            ("hits", now.hits - before.hits), ("misses", now.misses - before.misses),
            ("corrupt", now.corrupt - before.corrupt), ("evictions", now.evictions - before.evictions),
            ("bytes_read", now.bytesRead - before.bytesRead), ("bytes_written", now.bytesWritten - before.bytesWritten),
        ].filter { $0.1 != 0 }
        guard !batch.isEmpty || !deltas.isEmpty else { return }
        _ = try? database.withLock { database in
            try database.transaction {
                for (id, time) in batch {
                    try database.query("UPDATE entries SET last_access = ? WHERE id = ?", [.integer(time), .integer(id)])
                }
                for (name, delta) in deltas {
                    try database.query(
                        "INSERT INTO totals VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                        [.text(name), .integer(delta)])
                }
            }
        }
    }

    // MARK: maintenance

    /// Bytes in the cache and number of entries, from the index.
    public func usage() throws -> (bytes: Int, entries: Int) {
        try database.withLock { database in
            let bytes = try database.query("SELECT value FROM totals WHERE name = 'bytes'")[0][0].integer
            let entries = try database.query("SELECT COUNT(*) FROM entries WHERE ready = 1")[0][0].integer
            return (bytes + indexBytes(), entries)
        }
    }

    /// Hits, misses, corrupt entries, evictions and bytes over the cache's whole life, all processes.
    public func lifetimeCounters() throws -> [String: Int] {
        flush()
        return try database.withLock { database in
            var totals: [String: Int] = [:]
            for row in try database.query("SELECT name, value FROM totals WHERE name != 'bytes'") {
                if case let .text(name) = row[0] { totals[name] = row[1].integer }
            }
            return totals
        }
    }

    /// Removes every entry.
    public func clear() throws {
        writer.sync { flushAccessTimes() }
        try database.withLock { database in
            try database.transaction {
                for row in try database.query("SELECT id FROM entries") { unlink(path(for: row[0].integer)) }
                try database.execute("DELETE FROM entries; UPDATE totals SET value = 0 WHERE name = 'bytes';")
            }
        }
    }

    /// Cleans up after processes that died mid-write: their reservations and temporary files.
    /// Runs in the background at startup.
    private func removeLeftovers() {
        if let pending = try? database.withLock({ try $0.query("SELECT id, owner FROM entries WHERE ready = 0") }) {
            for row in pending where !Self.isAlive(row[1].integer) { try? remove(id: row[0].integer) }
        }
        let objects = directory + "/objects"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: objects)) ?? [] where name.hasPrefix("tmp.") {
            // tmp.<pid>.<id>: the writer's pid says whether the file can still be finished.
            let parts = name.split(separator: ".")
            if parts.count == 3, let pid = Int(parts[1]), !Self.isAlive(pid) { unlink(objects + "/" + name) }
        }
    }

    /// Whether process `pid` exists (a reservation's owner may still finish its write).
    private static func isAlive(_ pid: Int) -> Bool {
        pid > 0 && (kill(pid_t(pid), 0) == 0 || errno == EPERM)
    }

    /// Writes a new file from `parts`, one after the other, with plain syscalls: no hidden
    /// temporary files of its own.
    private static func writeFile(_ path: String, _ parts: [UInt8]...) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(fd) }
        for bytes in parts {
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw CocoaError(.fileWriteOutOfSpace) }
                done += n
            }
        }
    }

    /// `objects/<low byte, 2 hex digits>/<id in hex>`: 256 directories keep each one small.
    private func path(for id: Int) -> String {
        shardDirectory(id % Self.shardCount) + "/" + String(id, radix: 16)
    }

    private static let shardCount = 256

    private func shardDirectory(_ shard: Int) -> String {
        let name = String(shard, radix: 16)
        return directory + "/objects/" + (name.count == 1 ? "0" : "") + name
    }

    /// Space a file of `length` bytes takes, in whole blocks as `du` counts it.
    private static func onDisk(_ length: Int) -> Int {
        (length + blockSize - 1) / blockSize * blockSize
    }

    /// The index's files; `walAtLeast` counts the write-ahead log as at least that long, the
    /// room it may grow into before it is truncated again.
    private func indexBytes(walAtLeast: Int = 0) -> Int {
        ["", "-wal", "-shm"].reduce(0) { total, suffix in
            var info = stat()
            let length = stat(directory + "/index.sqlite" + suffix, &info) == 0 ? Self.onDisk(Int(info.st_size)) : 0
            return total + (suffix == "-wal" ? max(length, walAtLeast) : length)
        }
    }

    /// The write-ahead log's usual bound. SQLite's automatic checkpoints cannot restart the
    /// log while another connection (this process's lookups, another process) is reading,
    /// so under steady reads it grows past the bound; a truncating checkpoint waits for
    /// those reads, which are short, and empties it.
    private static let walLimit = 256 << 10

    private func truncateLogIfLong(_ database: SQLiteDatabase) {
        var info = stat()
        guard stat(directory + "/index.sqlite-wal", &info) == 0, Int(info.st_size) > Self.walLimit else { return }
        _ = try? database.query("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    private func freeBytes() -> Int {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return 0 }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    private static func now() -> Int { Int(Date().timeIntervalSince1970 * 1000) }
}
