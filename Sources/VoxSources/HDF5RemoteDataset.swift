import CHDF5
import VoxCache
import Synchronization

/// A 3-d dataset of a remote HDF5 file: libhdf5 reads its metadata (through a driver over
/// `RemoteBytes`), and voxfs fetches and decodes the data itself, so only the chunks a read
/// needs cross the network, and decompression runs outside libhdf5's lock.
///
/// Boxes are in the dataset's own voxels as (x, y, z); the dataset is stored (Z, Y, X).
final class HDF5RemoteDataset: Sendable {
    enum Storage: Sendable, Equatable {
        /// Data at one address; nil when the dataset was never written.
        case contiguous(address: Int?)
        /// Chunks of `shape` (x, y, z), each through the filter pipeline.
        case chunked(shape: Vec3, pipeline: [HDF5Filter])
    }

    struct ChunkLocation: Sendable, Equatable {
        var range: Range<Int>
        /// Bit i set: filter i of the pipeline was not applied to this chunk.
        var skippedFilters: UInt32
    }

    let url: String
    /// (x, y, z).
    let shape: Vec3
    let dataType: DataType
    let storedBigEndian: Bool
    let storage: Storage
    /// One element of the fill value, little-endian.
    let fillValue: [UInt8]

    private let bytes: any RemoteBytes
    private let reader: MetadataReader
    private let handles: Handles
    /// Chunk locations looked up so far, by chunk grid position.
    private let locations = Mutex<[Vec3: ChunkLocation?]>([:])

    /// Retries of one libhdf5 call, each after fetching the piece it lacked.
    static let maxAttempts = 256

    private init(url: String, opened: Opened, bytes: any RemoteBytes, reader: MetadataReader) {
        self.url = url
        self.shape = opened.shape
        self.dataType = opened.dataType
        self.storedBigEndian = opened.bigEndian
        self.storage = opened.storage
        self.fillValue = opened.fillValue
        self.bytes = bytes
        self.reader = reader
        self.handles = opened.handles
    }

    /// Opens `path` in `bytes`: reads the superblock and the dataset's header, nothing more.
    static func open(_ bytes: any RemoteBytes, path: String) async throws -> HDF5RemoteDataset {
        let reader = MetadataReader(bytes)
        let opened = try await retrying(reader, discard: { $0.handles.close() }) { () throws(SourceError) in
            try Opened(reader: reader, path: path, url: bytes.url)
        }
        return HDF5RemoteDataset(url: bytes.url, opened: opened, bytes: bytes, reader: reader)
    }

    /// Runs `body` under libhdf5's lock until it ran without lacking any metadata: each
    /// attempt that lacked a piece fetches it (outside the lock) and tries again.
    private static func retrying<T: Sendable>(
        _ reader: MetadataReader, discard: (T) -> Void = { _ in }, _ body: () throws(SourceError) -> T
    ) async throws -> T {
        for _ in 0..<maxAttempts {
            // The reader's slot is set and read under the lock: concurrent calls on one file
            // (chunk lookups) each see only what their own attempt lacked.
            let (result, missing) = HDF5Library.lock.withLock { _ -> (Result<T, SourceError>, Range<Int>?) in
                reader.missing.withLock { $0 = nil }
                let result: Result<T, SourceError>
                do throws(SourceError) { result = .success(try body()) } catch { result = .failure(error) }
                return (result, reader.missing.withLock { $0 })
            }
            if let missing {
                if case let .success(value) = result { HDF5Library.lock.withLock { _ in discard(value) } }
                try await reader.bytes.load(missing)
                continue
            }
            return try result.get()
        }
        throw SourceError.unreadableFile("its HDF5 metadata does not fit the memory cache", url: reader.bytes.url)
    }

    // MARK: reading

    /// The voxels of box [begin, end) in precomputed order (x fastest), little-endian.
    /// - Parameter shared: where decoded HDF5 chunks are kept for other boxes that cross
    ///   them (when the caller's boxes are smaller than the HDF5 chunks); nil decodes afresh.
    func read(from begin: Vec3, to end: Vec3, shared: MemoryCache<[UInt8]>? = nil) async throws -> [UInt8] {
        precondition(begin.x >= 0 && begin.y >= 0 && begin.z >= 0 && end.x <= shape.x && end.y <= shape.y && end.z <= shape.z)
        let box = end - begin
        var output = filled(count: box.product)
        switch storage {
        case .contiguous(address: nil): break
        case let .contiguous(address?): try await readContiguous(at: address, begin: begin, end: end, into: &output)
        case let .chunked(chunk, pipeline): try await readChunked(chunk, pipeline, begin: begin, end: end, shared: shared, into: &output)
        }
        return output
    }

    private var width: Int { dataType.byteWidth }

    private func filled(count: Int) -> [UInt8] {
        if fillValue.allSatisfy({ $0 == 0 }) { return [UInt8](repeating: 0, count: count * width) }
        var out: [UInt8] = []
        out.reserveCapacity(count * width)
        for _ in 0..<count { out += fillValue }
        return out
    }

    /// Rows of a contiguous dataset, merged where they touch in the file.
    private func readContiguous(at address: Int, begin: Vec3, end: Vec3, into output: inout [UInt8]) async throws {
        let total = shape.product * width
        guard address + total <= bytes.size else {
            throw SourceError.unreadableFile("its data ends at byte \(address + total), past the file's \(bytes.size)", url: url)
        }
        var ranges: [Range<Int>] = []
        for z in begin.z..<end.z {
            for y in begin.y..<end.y {
                let start = address + ((z * shape.y + y) * shape.x + begin.x) * width
                let row = start..<(start + (end.x - begin.x) * width)
                if let last = ranges.last, last.upperBound == row.lowerBound {
                    ranges[ranges.count - 1] = last.lowerBound..<row.upperBound
                } else {
                    ranges.append(row)
                }
            }
        }
        let pieces = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for (index, range) in ranges.enumerated() {
                group.addTask { (index, try await self.bytes.fetch(range)) }
            }
            return try await group.reduce(into: [Int: [UInt8]]()) { $0[$1.0] = $1.1 }
        }
        var at = 0
        for index in ranges.indices {
            let piece = nativeOrder(pieces[index]!)
            output.replaceSubrange(at..<(at + piece.count), with: piece)
            at += piece.count
        }
    }

    private func readChunked(
        _ chunk: Vec3, _ pipeline: [HDF5Filter], begin: Vec3, end: Vec3, shared: MemoryCache<[UInt8]>?, into output: inout [UInt8]
    ) async throws {
        let first = Vec3(begin.x / chunk.x, begin.y / chunk.y, begin.z / chunk.z)
        let last = Vec3((end.x - 1) / chunk.x, (end.y - 1) / chunk.y, (end.z - 1) / chunk.z)
        var cells: [Vec3] = []
        for z in first.z...last.z { for y in first.y...last.y { for x in first.x...last.x { cells.append(Vec3(x, y, z)) } } }
        let chunkBytes = chunk.product * width
        try await withThrowingTaskGroup(of: (Vec3, [UInt8]?).self) { group in
            for cell in cells {
                group.addTask {
                    guard let location = try await self.chunkLocation(cell, chunk: chunk) else { return (cell, nil) }
                    let decode: @Sendable () async throws -> [UInt8] = {
                        try await self.decodedChunk(cell, at: location, pipeline: pipeline, expected: chunkBytes)
                    }
                    guard let shared else { return (cell, try await decode()) }
                    return (cell, try await shared.value(for: "hdf5|\(self.url)|\(cell)", cost: { $0.count + 64 }, load: decode))
                }
            }
            for try await (cell, decoded) in group {
                guard let decoded else { continue }  // never written: the fill value is in place
                copy(decoded, chunkAt: cell * chunk, chunk: chunk, begin: begin, end: end, into: &output)
            }
        }
    }

    private func decodedChunk(_ cell: Vec3, at location: ChunkLocation, pipeline: [HDF5Filter], expected: Int) async throws -> [UInt8] {
        let stored = try await bytes.fetch(location.range)
        do {
            return nativeOrder(try HDF5Filter.decode(stored, pipeline: pipeline, skipped: location.skippedFilters, expected: expected))
        } catch {
            throw SourceError.corruptChunk("HDF5 chunk \(cell) at bytes \(location.range): \(error)", url: url)
        }
    }

    /// Copies the part of a decoded chunk (origin `origin`) that lies in [begin, end).
    private func copy(_ decoded: [UInt8], chunkAt origin: Vec3, chunk: Vec3, begin: Vec3, end: Vec3, into output: inout [UInt8]) {
        let low = Vec3(max(origin.x, begin.x), max(origin.y, begin.y), max(origin.z, begin.z))
        let high = (origin + chunk).min(end)
        let box = end - begin
        let rowBytes = (high.x - low.x) * width
        decoded.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                for z in low.z..<high.z {
                    for y in low.y..<high.y {
                        let from = (((z - origin.z) * chunk.y + (y - origin.y)) * chunk.x + (low.x - origin.x)) * width
                        let to = (((z - begin.z) * box.y + (y - begin.y)) * box.x + (low.x - begin.x)) * width
                        (target.baseAddress! + to).copyMemory(from: source.baseAddress! + from, byteCount: rowBytes)
                    }
                }
            }
        }
    }

    /// Big-endian samples swapped to little-endian.
    private func nativeOrder(_ bytes: [UInt8]) -> [UInt8] {
        guard storedBigEndian, width > 1 else { return bytes }
        var out = bytes
        out.withUnsafeMutableBufferPointer { buffer in
            var at = 0
            while at + width <= buffer.count {
                var low = at, high = at + width - 1
                while low < high {
                    buffer.swapAt(low, high)
                    low += 1
                    high -= 1
                }
                at += width
            }
        }
        return out
    }

    /// Where chunk `cell` is stored, or nil when it was never written; looked up once.
    func chunkLocation(_ cell: Vec3, chunk: Vec3) async throws -> ChunkLocation? {
        if let known = locations.withLock({ $0[cell] }) { return known }
        let origin = [UInt64(cell.z * chunk.z), UInt64(cell.y * chunk.y), UInt64(cell.x * chunk.x)]
        let dataset = handles.dataset
        let size = bytes.size
        let location = try await Self.retrying(reader) { () throws(SourceError) -> ChunkLocation? in
            var mask: UInt32 = 0, address: UInt64 = 0, length: UInt64 = 0
            switch voxfs_h5_chunk_location(dataset, origin, &mask, &address, &length) {
            case 0: return nil
            case 1 where address + length <= UInt64(size):
                return ChunkLocation(range: Int(address)..<Int(address + length), skippedFilters: mask)
            case 1: throw SourceError.unreadableFile("chunk \(cell) ends past the end of the file", url: url)
            default: throw SourceError.unreadableFile("cannot look up chunk \(cell) (corrupt chunk index)", url: url)
            }
        }
        locations.withLock { $0[cell] = location }
        return location
    }
}

extension HDF5RemoteDataset {
    /// libhdf5's handles of the open file and dataset, closed with the last reference.
    final class Handles: Sendable {
        let file: hid_t
        let dataset: hid_t
        private let closed = Atomic<Bool>(false)

        init(file: hid_t, dataset: hid_t) {
            self.file = file
            self.dataset = dataset
        }

        /// Closes both (caller holds the lock); later calls do nothing.
        func close() {
            guard !closed.exchange(true, ordering: .relaxed) else { return }
            if dataset >= 0 { H5Dclose(dataset) }
            if file >= 0 { H5Fclose(file) }
        }

        deinit {
            if !closed.load(ordering: .relaxed) { HDF5Library.lock.withLock { _ in close() } }
        }
    }

    /// What the driver's read callback sees: the file, and the first piece it lacked.
    final class MetadataReader: Sendable {
        let bytes: any RemoteBytes
        let missing = Mutex<Range<Int>?>(nil)

        init(_ bytes: any RemoteBytes) {
            self.bytes = bytes
        }

        var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    }

    /// The dataset's description, read under the lock.
    struct Opened: Sendable {
        var handles: Handles
        var shape: Vec3
        var dataType: DataType
        var bigEndian: Bool
        var storage: Storage
        var fillValue: [UInt8]

        init(reader: MetadataReader, path: String, url: String) throws(SourceError) {
            let file = voxfs_h5_open_remote(remoteRead, reader.context, UInt64(reader.bytes.size))
            guard file >= 0 else { throw SourceError.unreadableFile("not an HDF5 file", url: url) }
            var rank: Int32 = 0, typeClass: Int32 = 0, typeSize = 0, signed: Int32 = 0, bigEndian: Int32 = 0
            var dims = [UInt64](repeating: 0, count: 8)
            let dataset = voxfs_h5_exists(file, path) == 1
                ? voxfs_h5_open_dataset(file, path, &rank, &dims, &typeClass, &typeSize, &signed, &bigEndian) : -1
            let handles = Handles(file: file, dataset: dataset)
            do throws(SourceError) {
                guard dataset >= 0 else { throw SourceError.unreadableFile("no dataset \(path)", url: url) }
                guard rank == 3 else { throw SourceError.unsupported("dataset \(path) has \(rank) dimensions, not 3 (Z, Y, X)", url: url) }
                guard let dataType = HDF5Array.dataType(class: typeClass, size: typeSize, signed: signed != 0) else {
                    throw SourceError.unsupported("dataset \(path): element type (class \(typeClass), \(typeSize) bytes)", url: url)
                }
                var fill = [UInt8](repeating: 0, count: dataType.byteWidth)
                guard fill.withUnsafeMutableBytes({ voxfs_h5_fill_value(dataset, $0.baseAddress, $0.count) }) == 0 else {
                    throw SourceError.unreadableFile("dataset \(path): unreadable fill value", url: url)
                }
                self.handles = handles
                self.shape = Vec3(Int(dims[2]), Int(dims[1]), Int(dims[0]))
                self.dataType = dataType
                self.bigEndian = bigEndian != 0
                self.fillValue = fill
                self.storage = try Self.storage(dataset, path: path, url: url, elementSize: dataType.byteWidth)
            } catch {
                handles.close()
                throw error
            }
        }

        private static func storage(_ dataset: hid_t, path: String, url: String, elementSize: Int) throws(SourceError) -> Storage {
            var chunkRank: Int32 = 0, filterCount: Int32 = 0
            var chunk = [UInt64](repeating: 0, count: 8)
            var filters = [Int32](repeating: 0, count: 16), parameters = [UInt32](repeating: 0, count: 16)
            switch voxfs_h5_storage(dataset, &chunkRank, &chunk, &filterCount, &filters, &parameters) {
            case 0:
                var address: UInt64 = 0
                return .contiguous(address: voxfs_h5_contiguous_location(dataset, &address) == 1 ? Int(address) : nil)
            case 1 where chunkRank == 3 && chunk.prefix(3).allSatisfy({ $0 > 0 }):
                var pipeline: [HDF5Filter] = []
                for index in 0..<Int(filterCount) {
                    guard let filter = HDF5Filter(id: filters[index], parameter: parameters[index], elementSize: elementSize) else {
                        throw SourceError.unsupported("dataset \(path) is compressed with \(HDF5Filter.name(of: filters[index]))", url: url)
                    }
                    pipeline.append(filter)
                }
                return .chunked(shape: Vec3(Int(chunk[2]), Int(chunk[1]), Int(chunk[0])), pipeline: pipeline)
            case 2: throw SourceError.unsupported("dataset \(path) has compact storage", url: url)
            default: throw SourceError.unreadableFile("dataset \(path): unreadable storage layout", url: url)
            }
        }
    }
}

/// The driver's read callback: copies bytes the file holds in memory, or notes the first
/// piece it lacks and fails the read.
private let remoteRead: voxfs_h5_read_fn = { context, offset, size, buffer in
    let reader = Unmanaged<HDF5RemoteDataset.MetadataReader>.fromOpaque(context!).takeUnretainedValue()
    let range = Int(offset)..<(Int(offset) + size)
    guard let bytes = reader.bytes.cached(range), bytes.count == size else {
        reader.missing.withLock { if $0 == nil { $0 = range } }
        return 1
    }
    bytes.withUnsafeBytes { buffer!.copyMemory(from: $0.baseAddress!, byteCount: size) }
    return 0
}
