import Synchronization
import VoxCache
import VoxTransport

/// A Neuroglancer precomputed image layer, read chunk by chunk through a shared decoded-chunk cache.
public final class PrecomputedVolume: VolumeSource {
    public let info: PrecomputedInfo
    public let location: String
    /// Per scale: where stored chunks come from (files or shards) and how they decode.
    private let readers: [any ChunkReader]
    private let decoders: [any ChunkDecoder]
    private let cache: MemoryCache<DecodedChunk>
    private let disk: DiskCache?
    private let inFlight: ByteLimiter
    private let fillMissing: Bool
    /// Per scale: the last plane read, and whether reads have been stepping through z in order.
    private let walk = Mutex<[Int: (z: Int, inOrder: Bool)]>([:])
    /// No prefetching for a while after a chunk failed to load.
    private let failures = FailureWindow()
    /// Identifies this version of the layer in cache keys: the info's validator (ETag, or
    /// Last-Modified and size), else a checksum of the info itself.
    private let version: String

    public var dataType: DataType { info.dataType }
    public var channelCount: Int { info.channelCount }
    public var scales: [ScaleGeometry] { info.scales.map(\.geometry) }

    /// Fetches and checks the layer's info, and makes sure every scale can be read.
    /// Fetches the layer's info (from the disk cache when the server is down) and opens it.
    /// - Parameter caches: shared by every volume of the mount.
    public static func open(store: any ObjectStore, caches: SourceCaches, fillMissing: Bool = true) async throws -> PrecomputedVolume {
        let url = store.describe("info")
        guard let fetched = try await MetadataCache.fetch("info", from: store, disk: caches.disk) else {
            throw SourceError.invalidInfo("no info file (404)", url: url)
        }
        let info = try PrecomputedInfo(json: fetched.bytes, url: url)
        return try PrecomputedVolume(info: info, version: fetched.validator, store: store, caches: caches, fillMissing: fillMissing)
    }

    public convenience init(info: PrecomputedInfo, version: String?, store: any ObjectStore, caches: SourceCaches, fillMissing: Bool = true) throws {
        let version = version ?? Self.checksumVersion(info)
        var decoders: [any ChunkDecoder] = []
        var readers: [any ChunkReader] = []
        for scale in info.scales {
            let url = store.describe(scale.geometry.key)
            if let sharding = scale.shardingJSON {
                let spec = try ShardingSpec(json: sharding, url: store.describe("info"))
                readers.append(ShardedChunkReader(store: store, spec: spec, caches: caches, cachePrefix: store.location + "|" + version))
            } else {
                readers.append(UnshardedChunkReader(store: store))
            }
            guard let decoder = ChunkDecoders.decoder(
                for: scale.geometry.encoding, dataType: info.dataType, channelCount: info.channelCount,
                blockSize: scale.compressedSegmentationBlockSize)
            else {
                throw SourceError.unsupported(
                    "encoding '\(scale.geometry.encoding)' for \(info.channelCount)-channel \(info.dataType) in scale '\(scale.geometry.key)'",
                    url: url)
            }
            decoders.append(decoder)
        }
        self.init(info: info, version: version, location: store.location, readers: readers, decoders: decoders, caches: caches,
                  fillMissing: fillMissing)
    }

    /// A volume whose chunks come from any source: one reader and one decoder per scale
    /// (cutout services use this with a precomputed-style info they build themselves).
    public init(
        info: PrecomputedInfo, version: String?, location: String, readers: [any ChunkReader], decoders: [any ChunkDecoder],
        caches: SourceCaches, fillMissing: Bool = true
    ) {
        precondition(readers.count == info.scales.count && decoders.count == info.scales.count)
        self.info = info
        self.location = location
        self.readers = readers
        self.decoders = decoders
        self.cache = caches.chunks
        self.disk = caches.disk
        self.version = version ?? Self.checksumVersion(info)
        self.inFlight = caches.inFlight
        self.fillMissing = fillMissing
    }

    /// Identifies an info without a server validator: its checksum and length.
    private static func checksumVersion(_ info: PrecomputedInfo) -> String {
        "crc32:\(Checksum.crc32(info.rawJSON)):\(info.rawJSON.count)"
    }

    /// One decoded chunk, from the cache or fetched and decoded once.
    ///
    /// "Missing" is cached as a fact shared by every mount of the URL; whether it reads as
    /// zeros or fails is this volume's policy, applied after the cache.
    public func chunk(scale index: Int, cell: Vec3) async throws -> DecodedChunk {
        let scale = info.scales[index].geometry
        let key = chunkKey(scale: scale, cell: cell)
        let decoded = try await cache.value(for: key, cost: { $0.cost }) { [self] in
            let (begin, end) = scale.chunkBounds(cell)
            let layout = ChunkLayout(shape: end - begin, channelCount: channelCount, dataType: dataType)
            let decoder = decoders[index]
            // The two forms never share a key: stored bytes are never taken for voxels.
            let diskKey = decoder.cachesStoredBytes ? key + "|stored" : key
            switch await disk?.load(diskKey) {
            case .missing?: return DecodedChunk(shape: layout.shape, voxels: nil)
            case let .bytes(stored)? where decoder.cachesStoredBytes:
                if let voxels = try? decoder.decode(stored, layout: layout) { return DecodedChunk(shape: layout.shape, voxels: voxels) }
            case let .bytes(voxels)? where voxels.count == layout.decodedByteCount:
                return DecodedChunk(shape: layout.shape, voxels: voxels)
            case .bytes?, nil: break  // a wrong length cannot be this chunk: fetch it again
            }
            guard var stored = try await readers[index].storedChunk(scale: scale, cell: cell) else {
                await disk?.store(diskKey, .missing)
                return DecodedChunk(shape: layout.shape, voxels: nil)
            }
            let voxels: [UInt8]
            do { voxels = try decoder.decode(stored, layout: layout) } catch {
                // Bytes damaged on the way decode differently when fetched again; bytes
                // damaged at the source fail the same way twice.
                guard let again = try await readers[index].storedChunk(scale: scale, cell: cell), again != stored,
                      let decoded = try? decoder.decode(again, layout: layout)
                else { throw SourceError.corruptChunk("\(error)", url: readers[index].describe(scale: scale, cell: cell)) }
                Log.info("chunk \(readers[index].describe(scale: scale, cell: cell)) decoded only when fetched again (\(error))")
                voxels = decoded
                stored = again
            }
            await disk?.store(diskKey, .bytes(decoder.cachesStoredBytes ? stored : voxels))
            return DecodedChunk(shape: layout.shape, voxels: voxels)
        }
        if decoded.voxels == nil && !fillMissing {
            throw SourceError.missingChunk(url: readers[index].describe(scale: scale, cell: cell))
        }
        return decoded
    }

    public func planeRows(scale index: Int, z: Int, rows: Range<Int>, columns: Range<Int>) async throws -> [UInt8] {
        let read = try planeRead(scale: index, z: z, rows: rows, columns: columns)
        if read.cells.isEmpty { return [] }
        var output = [UInt8].unfilled(read.byteCount)
        let walking = startReading(read)
        // All chunks of the rows at once; the mount-wide byte limiter, not this loop, bounds memory.
        let chunkBytes = ChunkLayout(shape: read.scale.chunkSize, channelCount: channelCount, dataType: dataType).decodedByteCount
        let maxTasks = 256
        try await withThrowingTaskGroup(of: (Vec3, DecodedChunk, Int).self) { group in
            var next = 0
            func launch() {
                let cell = read.cells[next]
                next += 1
                group.addTask {
                    let taken = await self.inFlight.acquire(chunkBytes)
                    do {
                        try Task.checkCancellation()  // another chunk of this read failed already
                        return (cell, try await self.chunk(scale: index, cell: cell), taken)
                    } catch {
                        self.inFlight.release(taken)
                        throw error
                    }
                }
            }
            while next < min(read.cells.count, maxTasks) { launch() }
            // Drain every result even after a failure, so no finished chunk keeps its budget.
            var failure: (any Error)?
            while let result = await group.nextResult() {
                switch result {
                case let .success((cell, decoded, taken)):
                    if failure == nil { copy(decoded, cell: cell, read: read, into: &output) }
                    inFlight.release(taken)
                    if failure == nil && next < read.cells.count { launch() }
                case let .failure(error):
                    if failure == nil { failure = error; group.cancelAll() }
                    if !(error is CancellationError) { failures.note() }
                }
            }
            if let failure { throw failure }
        }
        finishReading(read, walking: walking)
        return output
    }

    /// The same rows when every chunk they need is in memory, else nil (with nothing noted,
    /// so the read that follows counts once). Answers on the caller's thread: a plane whose
    /// chunks are loaded never waits behind chunks being decoded for reads ahead.
    public func planeRowsIfCached(scale index: Int, z: Int, rows: Range<Int>, columns: Range<Int>) -> [UInt8]? {
        guard let read = try? planeRead(scale: index, z: z, rows: rows, columns: columns) else { return nil }
        if read.cells.isEmpty { return [] }
        // A missing chunk that must fail is the async read's to report.
        guard let chunks = cache.cached(all: read.cells.map { chunkKey(scale: read.scale, cell: $0) }),
              fillMissing || chunks.allSatisfy({ $0.voxels != nil })
        else { return nil }
        var output = [UInt8].unfilled(read.byteCount)
        let walking = startReading(read)
        for (cell, decoded) in zip(read.cells, chunks) { copy(decoded, cell: cell, read: read, into: &output) }
        finishReading(read, walking: walking)
        return output
    }

    private func planeRead(scale index: Int, z: Int, rows: Range<Int>, columns: Range<Int>) throws -> PlaneRead {
        try PlaneRead(info.scales[index].geometry, index: index, z: z, rows: rows, columns: columns,
                      bytesPerVoxel: channelCount * dataType.byteWidth)
    }

    /// Rows of one plane and the chunks they cover.
    private struct PlaneRead {
        let scale: ScaleGeometry
        let index: Int
        let z: Int
        let rows: Range<Int>
        let columns: Range<Int>
        let byteCount: Int
        /// Chunk grid z, rows and columns.
        let gz: Int
        let chunkRows: ClosedRange<Int>
        let chunkColumns: ClosedRange<Int>
        /// Empty when no voxel is asked for.
        let cells: [Vec3]

        init(_ scale: ScaleGeometry, index: Int, z: Int, rows: Range<Int>, columns: Range<Int>, bytesPerVoxel: Int) throws {
            guard scale.zRange.contains(z), rows.lowerBound >= 0, rows.upperBound <= scale.size.y,
                  columns.lowerBound >= 0, columns.upperBound <= scale.size.x
            else {
                throw SourceError.outOfBounds("z \(z), rows \(rows), columns \(columns) of scale '\(scale.key)'")
            }
            self.scale = scale
            self.index = index
            self.z = z
            self.rows = rows
            self.columns = columns
            byteCount = rows.count * columns.count * bytesPerVoxel
            let chunk = scale.chunkSize
            gz = (z - scale.voxelOffset.z) / chunk.z
            // An empty range covers no chunk; its one-chunk span here is never read.
            chunkRows = (rows.lowerBound / chunk.y)...(max(rows.upperBound - 1, rows.lowerBound) / chunk.y)
            chunkColumns = (columns.lowerBound / chunk.x)...(max(columns.upperBound - 1, columns.lowerBound) / chunk.x)
            let (gz, chunkRows, chunkColumns) = (gz, chunkRows, chunkColumns)
            cells = rows.isEmpty || columns.isEmpty ? [] : chunkRows.flatMap { gy in chunkColumns.map { gx in Vec3(gx, gy, gz) } }
        }

        var isLastLayer: Bool { gz + 1 >= scale.gridSize.z }
        var coversWholeRows: Bool { columns == 0..<scale.size.x }
        /// The chunks of the chunk rows below this read in its layer, nearest first: as many
        /// rows as fit in `bytes`, none when one does not (a row wider than that would evict
        /// the chunks the reader is still using).
        func chunkRowsBelow(fitting bytes: Int, chunkBytes: Int) -> [Vec3] {
            let rowCount = bytes / max(1, chunkColumns.count * chunkBytes)
            let first = chunkRows.upperBound + 1, last = min(chunkRows.upperBound + rowCount, scale.gridSize.y - 1)
            guard first <= last else { return [] }
            return (first...last).flatMap { gy in chunkColumns.map { gx in Vec3(gx, gy, gz) } }
        }
        var nextLayer: [Vec3] { chunkRows.flatMap { gy in chunkColumns.map { gx in Vec3(gx, gy, gz + 1) } } }
        /// Whether this is the last plane of its chunk layer.
        var endsLayer: Bool { (z - scale.voxelOffset.z) % scale.chunkSize.z == scale.chunkSize.z - 1 }
    }

    /// Notes the read and starts loading what an in-order reader needs next; whether the
    /// reader is walking z in order.
    private func startReading(_ read: PlaneRead) -> Bool {
        let walking = isWalkingInOrder(scale: read.index, z: read.z)
        if walking || read.coversWholeRows {
            // A slice file, or a walk in z, is read on down the plane. Loading the chunk rows
            // below now overlaps their transfer and decode with this read's copy, where
            // loading each row when the reader gets there would wait a round trip per row.
            let chunkBytes = ChunkLayout(shape: read.scale.chunkSize, channelCount: channelCount, dataType: dataType).decodedByteCount
            prefetch(scale: read.index, cells: read.chunkRowsBelow(fitting: cache.capacity / 4, chunkBytes: chunkBytes))
        }
        if walking && !read.isLastLayer && layerFitsTwice(read.scale) { prefetch(scale: read.index, cells: read.nextLayer) }
        return walking
    }

    private func finishReading(_ read: PlaneRead, walking: Bool) {
        if walking && !read.isLastLayer && read.endsLayer {
            // The layer's last plane: an in-order reader is done with these chunks, so they go
            // first, and when two layers do not fit, their rows of the next layer load now.
            for cell in read.cells { cache.demote(chunkKey(scale: read.scale, cell: cell)) }
            if !layerFitsTwice(read.scale) { prefetch(scale: read.index, cells: read.nextLayer) }
        }
    }

    /// Whether reads of this scale are walking z in order: a step to the next plane starts a
    /// walk, more rows of the same plane continue it, anything else ends it.
    private func isWalkingInOrder(scale: Int, z: Int) -> Bool {
        walk.withLock { walk in
            let previous = walk[scale]
            let inOrder = switch previous?.z {
            case z?: previous!.inOrder
            case (z - 1)?: true
            default: false
            }
            walk[scale] = (z, inOrder)
            return inOrder
        }
    }

    /// Whether the memory tier holds this chunk layer and the next: prefetching a whole layer
    /// that does not fit would evict the chunks the reader is still using.
    private func layerFitsTwice(_ scale: ScaleGeometry) -> Bool {
        let layer = scale.gridSize.x * scale.gridSize.y
            * ChunkLayout(shape: scale.chunkSize, channelCount: channelCount, dataType: dataType).decodedByteCount
        return 2 * layer <= cache.capacity
    }

    /// Loads the chunks the next slices of an in-order reader will need, with spare budget
    /// only: it stops as soon as taking more would leave less than half the in-flight budget.
    private func prefetch(scale index: Int, cells: [Vec3]) {
        if failures.isOpen { return }
        let chunkBytes = ChunkLayout(shape: info.scales[index].geometry.chunkSize, channelCount: channelCount, dataType: dataType).decodedByteCount
        for cell in cells {
            let key = chunkKey(scale: info.scales[index].geometry, cell: cell)
            if cache.isCachedOrLoading(key) { continue }
            guard let taken = inFlight.tryAcquire(chunkBytes, leaving: inFlight.capacity / 2) else { return }
            Task {
                defer { self.inFlight.release(taken) }
                _ = try? await self.chunk(scale: index, cell: cell)
            }
        }
    }

    private func chunkKey(scale: ScaleGeometry, cell: Vec3) -> String {
        "chunk|\(location)|\(version)|\(scale.key)|\(cell.x),\(cell.y),\(cell.z)"
    }

    /// Copies the part of `chunk` that lies in the read's rows and columns into the (Y, X, C)
    /// output; a missing chunk's part becomes zeros.
    private func copy(_ chunk: DecodedChunk, cell: Vec3, read: PlaneRead, into output: inout [UInt8]) {
        let (scale, z, rows, columns) = (read.scale, read.z, read.rows, read.columns)
        let (begin, end) = scale.chunkBounds(cell)
        let shape = chunk.shape
        let width = dataType.byteWidth, channels = channelCount
        let zIn = z - scale.voxelOffset.z - begin.z
        let yFirst = max(rows.lowerBound, begin.y), yEnd = min(rows.upperBound, end.y)
        let xFirst = max(columns.lowerBound, begin.x), xEnd = min(columns.upperBound, end.x)
        let outRowBytes = columns.count * channels * width
        guard let voxels = chunk.voxels else {
            output.withUnsafeMutableBytes { dst in
                for y in yFirst..<yEnd {
                    let to = (y - rows.lowerBound) * outRowBytes + (xFirst - columns.lowerBound) * channels * width
                    (dst.baseAddress! + to).initializeMemory(as: UInt8.self, repeating: 0, count: (xEnd - xFirst) * channels * width)
                }
            }
            return
        }
        voxels.withUnsafeBytes { src in
            output.withUnsafeMutableBytes { dst in
                for y in yFirst..<yEnd {
                    let yIn = y - begin.y
                    let outRow = (y - rows.lowerBound) * outRowBytes
                    if channels == 1 {
                        let from = (shape.x * (yIn + shape.y * zIn) + xFirst - begin.x) * width
                        let to = outRow + (xFirst - columns.lowerBound) * width
                        (dst.baseAddress! + to).copyMemory(from: src.baseAddress! + from, byteCount: (xEnd - xFirst) * width)
                        continue
                    }
                    for c in 0..<channels {
                        let plane = (shape.x * (yIn + shape.y * (zIn + shape.z * c))) * width
                        for x in xFirst..<xEnd {
                            let from = plane + (x - begin.x) * width
                            let to = outRow + ((x - columns.lowerBound) * channels + c) * width
                            (dst.baseAddress! + to).copyMemory(from: src.baseAddress! + from, byteCount: width)
                        }
                    }
                }
            }
        }
    }
}
