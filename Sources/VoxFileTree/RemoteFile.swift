import Synchronization
import VoxCache
import VoxTransport
import VoxViews

/// A file of a remote tree, read in fixed-size blocks through the memory and disk caches,
/// with readahead for sequential readers.
///
/// Blocks are keyed by URL, version and block size, so a file replaced on the server never
/// serves a cached block of its old version, and every fetch is checked against the version.
/// When the listing gave only a size (index pages), one HEAD before the first fetch supplies
/// the ETag or date that keys and checks the blocks.
///
/// A small read away from any sequential stream (a random `pread`, an HDF5 header) fetches
/// only the page around it, unless its block is cached: a 4 KiB read then costs a 64 KiB
/// fetch and cache write instead of a whole block's.
public final class RemoteFile: FileView {
    public let tree: any FileTree
    public let path: String
    /// As listed.
    public let version: ObjectVersion
    public let modificationTime: Int?
    public let blockSize: Int
    /// What an isolated small read fetches; equal to `blockSize` when blocks are this small already.
    public let pageSize: Int
    private let caches: FileBlockCaches
    private let readahead: SequentialReadDetector
    /// The version blocks are fetched and keyed by, once known.
    private let pinned: Mutex<Pin?>
    /// The HEAD that pins a version the listing left without validators.
    private let pinning = Mutex<Task<Pin, any Error>?>(nil)
    /// No readahead for a while after a block failed to load.
    private let failures = FailureWindow()

    private struct Pin {
        var version: ObjectVersion
        var keyPrefix: String
        var pageKeyPrefix: String
    }

    /// - Parameter readahead: the largest window a sequential reader gets; it is also held
    ///   to half the memory cache, so read-ahead blocks are not evicted before they are read.
    public init(
        tree: any FileTree, path: String, version: ObjectVersion, modified: Int? = nil, blockSize: Int = 1 << 20,
        readahead: Int = 64 << 20, pageSize: Int = 64 << 10, caches: FileBlockCaches
    ) {
        precondition(blockSize > 0 && pageSize > 0)
        self.tree = tree
        self.path = path
        self.version = version
        self.modificationTime = modified
        self.blockSize = blockSize
        self.pageSize = min(blockSize, pageSize)
        self.caches = caches
        self.readahead = SequentialReadDetector(blockSize: blockSize, maxWindow: min(readahead, caches.memory.capacity / 2))
        self.pinned = Mutex(version.hasValidator ? Self.pin(tree, path, version, blockSize, pageSize) : nil)
    }

    public var size: Int { version.size }

    public func read(offset: Int, count: Int) async throws -> [UInt8] {
        let range = clamped(offset: offset, count: count)
        if range.isEmpty { return [] }
        let pin = try await currentPin()
        let sequential = noteRead(range, pin)
        if !sequential, pageSize < blockSize, range.count <= pageSize, blockIndexes(range).count == 1 {
            return try await readIsolated(range, pin)
        }
        let blocks = blockIndexes(range)
        let fetched = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for index in blocks { group.addTask { (index, try await self.block(index, pin)) } }
            return try await group.reduce(into: [Int: [UInt8]]()) { $0[$1.0] = $1.1 }
        }
        defer { if sequential { demoteFinished(range, pin) } }
        return assemble(range, unit: blockSize, units: blocks) { fetched[$0]! }
    }

    public func readIfCached(offset: Int, count: Int) -> [UInt8]? {
        let range = clamped(offset: offset, count: count)
        if range.isEmpty { return [] }
        guard let pin = pinned.withLock({ $0 }) else { return nil }
        let blocks = blockIndexes(range)
        var cached: [Int: [UInt8]] = [:]
        for index in blocks {
            guard let bytes = caches.memory.cached(pin.keyPrefix + String(index)) else {
                return pagesIfCached(range, pin).map { pages in
                    _ = noteRead(range, pin)
                    return assemble(range, unit: pageSize, units: pageIndexes(range)) { pages[$0]! }
                }
            }
            cached[index] = bytes
        }
        // Noted only when served here: a miss is noted once, by `read`.
        let sequential = noteRead(range, pin)
        defer { if sequential { demoteFinished(range, pin) } }
        return assemble(range, unit: blockSize, units: blocks) { cached[$0]! }
    }

    private func pagesIfCached(_ range: Range<Int>, _ pin: Pin) -> [Int: [UInt8]]? {
        guard pageSize < blockSize else { return nil }
        var pages: [Int: [UInt8]] = [:]
        for index in pageIndexes(range) {
            guard let bytes = caches.memory.cached(pin.pageKeyPrefix + String(index)) else { return nil }
            pages[index] = bytes
        }
        return pages
    }

    /// Exactly `range`, fetched now and not cached (for callers that cache what they decode
    /// from it), checked against the same version as the blocks.
    public func fetchUncached(_ range: Range<Int>) async throws -> [UInt8] {
        let range = range.clamped(to: 0..<size)
        if range.isEmpty { return [] }
        let bytes = try await tree.read(path, range: range, version: try await currentPin().version)
        guard bytes.count == range.count else {
            throw StoreError.badRange("got \(bytes.count) bytes for \(range.count)", url: tree.describe(path))
        }
        return bytes
    }

    private static func pin(_ tree: any FileTree, _ path: String, _ version: ObjectVersion, _ blockSize: Int, _ pageSize: Int) -> Pin {
        let object = "\(tree.describe(path))|\(version.tag)"
        return Pin(version: version, keyPrefix: "block|\(object)|\(blockSize)|", pageKeyPrefix: "page|\(object)|\(pageSize)|")
    }

    /// The listed version, completed by the server's validators when the listing had none.
    private func currentPin() async throws -> Pin {
        if let pin = pinned.withLock({ $0 }) { return pin }
        let task = pinning.withLock { current in
            if let current { return current }
            let task = Task { [self] in
                do {
                    let url = tree.describe(path)
                    guard let served = try await tree.version(of: path) else { throw StoreError.changed("it is gone", url: url) }
                    guard served.size == version.size else {
                        throw StoreError.changed("size is now \(served.size), was \(version.size)", url: url)
                    }
                    let pin = Self.pin(tree, path, served, blockSize, pageSize)
                    pinned.withLock { $0 = pin }
                    return pin
                } catch {
                    failures.note()
                    pinning.withLock { $0 = nil }
                    throw error
                }
            }
            current = task
            return task
        }
        return try await task.value
    }

    /// Tells the readahead detector about a read and starts the fetches it advises; true when
    /// the read continues a sequential stream.
    private func noteRead(_ range: Range<Int>, _ pin: Pin) -> Bool {
        let advice = readahead.advise(offset: range.lowerBound, count: range.count)
        prefetch(advice.prefetch, pin)
        return advice.isSequential
    }

    /// A sequential read that reaches the end of a block is done with it: the page cache
    /// holds its bytes now, and the read-ahead blocks need the room more.
    private func demoteFinished(_ range: Range<Int>, _ pin: Pin) {
        let first = range.lowerBound / blockSize
        let pastLastFinished = range.upperBound == size ? (size - 1) / blockSize + 1 : range.upperBound / blockSize
        for index in first..<max(first, pastLastFinished) { caches.memory.demote(pin.keyPrefix + String(index)) }
    }

    private func clamped(offset: Int, count: Int) -> Range<Int> {
        let start = min(max(offset, 0), size)
        return start..<min(start + max(count, 0), size)
    }

    private func blockIndexes(_ range: Range<Int>) -> ClosedRange<Int> {
        (range.lowerBound / blockSize)...((range.upperBound - 1) / blockSize)
    }

    private func pageIndexes(_ range: Range<Int>) -> ClosedRange<Int> {
        (range.lowerBound / pageSize)...((range.upperBound - 1) / pageSize)
    }

    /// Starts fetching the blocks of `range` that are not cached; failures surface when read.
    private func prefetch(_ range: Range<Int>, _ pin: Pin) {
        let range = range.clamped(to: 0..<size)
        if range.isEmpty || failures.isOpen { return }
        for index in blockIndexes(range) where caches.memory.cached(pin.keyPrefix + String(index)) == nil {
            Task { _ = try? await self.block(index, pin) }
        }
    }

    /// One block: from memory, else the disk cache, else the server (then kept in both).
    private func block(_ index: Int, _ pin: Pin) async throws -> [UInt8] {
        let key = pin.keyPrefix + String(index)
        do {
            return try await loadBlock(index, pin, key: key)
        } catch {
            failures.note()
            throw error
        }
    }

    private func loadBlock(_ index: Int, _ pin: Pin, key: String) async throws -> [UInt8] {
        try await caches.memory.value(for: key, cost: Self.cost) { [self] in
            let range = (index * blockSize)..<min(size, (index + 1) * blockSize)
            if case let .bytes(bytes)? = await caches.disk?.load(key), bytes.count == range.count { return bytes }
            return try await fetchAndStore(range, pin, key: key, what: "block")
        }
    }

    /// An isolated small read: from its block if memory or disk has it, else from its pages.
    private func readIsolated(_ range: Range<Int>, _ pin: Pin) async throws -> [UInt8] {
        let block = range.lowerBound / blockSize
        if let bytes = caches.memory.cached(pin.keyPrefix + String(block)) {
            return assemble(range, unit: blockSize, units: block...block) { _ in bytes }
        }
        let pages = pageIndexes(range)
        do {
            let fetched = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
                for index in pages { group.addTask { (index, try await self.loadPage(index, of: block, pin)) } }
                return try await group.reduce(into: [Int: [UInt8]]()) { $0[$1.0] = $1.1 }
            }
            return assemble(range, unit: pageSize, units: pages) { fetched[$0]! }
        } catch {
            failures.note()
            throw error
        }
    }

    private func loadPage(_ index: Int, of block: Int, _ pin: Pin) async throws -> [UInt8] {
        let key = pin.pageKeyPrefix + String(index)
        return try await caches.memory.value(for: key, cost: Self.cost) { [self] in
            let range = (index * pageSize)..<min(size, (index + 1) * pageSize)
            // A sequential reader or `voxfs prefetch` may have cached the whole block.
            let blockKey = pin.keyPrefix + String(block)
            let blockRange = (block * blockSize)..<min(size, (block + 1) * blockSize)
            if case let .bytes(bytes)? = await caches.disk?.load(blockKey), bytes.count == blockRange.count {
                caches.memory.insert(blockKey, bytes, cost: Self.cost(bytes))
                return Array(bytes[(range.lowerBound - blockRange.lowerBound)..<(range.upperBound - blockRange.lowerBound)])
            }
            if case let .bytes(bytes)? = await caches.disk?.load(key), bytes.count == range.count { return bytes }
            return try await fetchAndStore(range, pin, key: key, what: "page")
        }
    }

    private static let cost: @Sendable ([UInt8]) -> Int = { $0.count + 64 }

    private func fetchAndStore(_ range: Range<Int>, _ pin: Pin, key: String, what: String) async throws -> [UInt8] {
        let bytes = try await caches.inFlight.withBudget(range.count) {
            try await tree.read(path, range: range, version: pin.version)
        }
        guard bytes.count == range.count else {
            throw StoreError.badRange("got \(bytes.count) bytes for a \(range.count)-byte \(what)", url: tree.describe(path))
        }
        // A file streams faster than the disk takes writes: rather than slow the reader to
        // the disk's speed, data that finds the write buffer full is not cached.
        caches.disk?.storeIfIdle(key, .bytes(bytes))
        return bytes
    }

    /// `range` cut from the blocks or pages (`unit` bytes each, numbered `units`) that cover it.
    private func assemble(_ range: Range<Int>, unit: Int, units: ClosedRange<Int>, _ part: (Int) -> [UInt8]) -> [UInt8] {
        if units.count == 1 {
            let start = units.lowerBound * unit
            let whole = part(units.lowerBound)
            // A read of exactly one block (the kernel's readahead asks for those) shares its storage.
            if range.lowerBound == start && range.count == whole.count { return whole }
            return Array(whole[(range.lowerBound - start)..<(range.upperBound - start)])
        }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        for index in units {
            let start = index * unit
            let piece = max(range.lowerBound, start)..<min(range.upperBound, start + unit)
            out += part(index)[(piece.lowerBound - start)..<(piece.upperBound - start)]
        }
        return out
    }
}
