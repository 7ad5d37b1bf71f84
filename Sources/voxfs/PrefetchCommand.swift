import ArgumentParser
import Foundation
import Glibc
import Synchronization
import VoxNamespace
import VoxSources

/// Set by SIGINT: the prefetch loops stop at the next read.
private let interrupted = Atomic<Bool>(false)

struct PrefetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefetch",
        abstract: "Warm the disk cache of a live mount: whole files and directories, or a region of a layer.",
        discussion: """
            Reads through the mount, so everything read lands in the mount's caches. Run it again \
            after an interruption: what is cached already is read from the cache.
            """)

    @Argument(help: "Files or directories inside a voxfs mount; with --region, layer or scale directories.")
    var paths: [String]

    @Option(help: "Voxel box x0-x1_y0-y1_z0-z1 (absolute coordinates, end exclusive) of each layer to prefetch.")
    var region: String?

    @Option(help: "With --region on a layer directory: the scale directory to read (default: the finest).")
    var scale: String?

    /// A file tree caches blocks only while the disk keeps up; passes over the files repeat
    /// (with the page cache dropped) while blocks were left out.
    static let maxFilePasses = 3

    func run() throws {
        signal(SIGINT) { _ in interrupted.store(true, ordering: .relaxed) }
        do {
            if let region {
                let box = try VoxelRegion(parsing: region)
                let jobs = try paths.map { try RegionPrefetch(path: Mountpoint.absolute($0), scale: scale, region: box) }
                let statsFiles = try jobs.map { try Self.statisticsFile(for: $0.volumePath) }
                let progress = PrefetchProgress(total: jobs.reduce(0) { $0 + $1.byteCount }, chunks: jobs.reduce(0) { $0 + $1.chunkCount })
                for job in jobs where !interrupted.load(ordering: .relaxed) { try job.run(progress) }
                Self.waitForDiskWrites(statsFiles)
                finish(progress)
            } else {
                try prefetchFiles(paths.map(Mountpoint.absolute))
            }
        } catch let error as UserFacingError {
            fail(error.description)
        }
    }

    private func finish(_ progress: PrefetchProgress) {
        let stopped = interrupted.load(ordering: .relaxed)
        progress.finish(interrupted: stopped)
        if stopped { Voxfs.exit(withError: ExitCode(130)) }
    }

    private func prefetchFiles(_ roots: [String]) throws {
        let files = try roots.flatMap(Self.files(under:))
        let statsPath = try roots.map(Self.statisticsFile(for:))
        var progress = PrefetchProgress(total: files.reduce(0) { $0 + $1.size })
        for pass in 1...Self.maxFilePasses {
            let skippedBefore = Self.skippedBlocks(statsPath)
            for file in files where !interrupted.load(ordering: .relaxed) {
                try Self.read(file.path, dropCachedPages: pass > 1, progress: progress)
            }
            guard !interrupted.load(ordering: .relaxed), Self.skippedBlocks(statsPath) > skippedBefore, pass < Self.maxFilePasses else { break }
            PrefetchProgress.emit("prefetch: the disk fell behind and some blocks were not cached; reading again (pass \(pass + 1))")
            progress = PrefetchProgress(total: progress.total)
        }
        Self.waitForDiskWrites(statsPath)
        finish(progress)
    }

    /// Regular files under `path` (or `path` itself), with sizes; hidden entries are skipped.
    static func files(under path: String) throws -> [(path: String, size: Int)] {
        var info = stat()
        guard stat(path, &info) == 0 else { throw UserFacingError("\(path): \(String(cString: strerror(errno)))") }
        if info.st_mode & S_IFMT == S_IFREG { return [(path, Int(info.st_size))] }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw UserFacingError("\(path): neither a file nor a directory") }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path).sorted() } catch {
            throw UserFacingError("\(path): cannot list: \(error.localizedDescription)")
        }
        return try names.filter { !$0.hasPrefix(".") }.flatMap { try files(under: path + "/" + $0) }
    }

    /// `<mount root>/.voxfs/stats.json` of the mount holding `path`.
    static func statisticsFile(for path: String) throws -> String {
        var directory = URL(fileURLWithPath: path)
        while directory.path != "/" {
            let candidate = directory.path + "/.voxfs/stats.json"
            if let contents = FileManager.default.contents(atPath: candidate) {
                guard (try? MountStatistics.decode(contents))?.disk != nil else {
                    throw UserFacingError("\(path): its mount runs without a disk cache (cache size 0), so there is nothing to prefetch into")
                }
                return candidate
            }
            directory.deleteLastPathComponent()
        }
        throw UserFacingError("\(path) is not inside a voxfs mount")
    }

    /// Sum of one disk-cache figure over the mounts whose statistics files are given.
    private static func diskTotal(_ statsFiles: [String], _ figure: (MountStatistics.Disk) -> Int?) -> Int {
        Set(statsFiles).reduce(0) { total, file in
            let stats = FileManager.default.contents(atPath: file).flatMap { try? MountStatistics.decode($0) }
            return total + (stats?.disk.flatMap(figure) ?? 0)
        }
    }

    private static func skippedBlocks(_ statsFiles: [String]) -> Int {
        diskTotal(statsFiles) { $0.counters.skippedBusy }
    }

    /// Prefetch is done when its data is on disk, not when the reads return: the daemon writes
    /// the cache in the background. Gives up after `diskWriteDeadline` (a stalled disk).
    private static func waitForDiskWrites(_ statsFiles: [String]) {
        let started = ContinuousClock.now, deadline = started + diskWriteDeadline
        var announced = false
        while !interrupted.load(ordering: .relaxed), diskTotal(statsFiles, { $0.writesInProgress }) > 0 {
            guard ContinuousClock.now < deadline else {
                PrefetchProgress.emit("prefetch: the disk cache is still writing after \(diskWriteDeadline); it goes on in the background")
                return
            }
            if !announced && ContinuousClock.now - started > .seconds(1) {
                PrefetchProgress.emit("prefetch: waiting for the disk cache to finish writing")
                announced = true
            }
            usleep(50_000)
        }
    }

    static let diskWriteDeadline = Duration.seconds(120)

    /// Reads a whole file in 1 MiB pieces.
    private static func read(_ path: String, dropCachedPages: Bool, progress: PrefetchProgress) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw UserFacingError("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // Pages the kernel still holds would be answered without asking the daemon.
        if dropCachedPages { posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset = 0
        while !interrupted.load(ordering: .relaxed) {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw UserFacingError("\(path) at byte \(offset): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            offset += count
            progress.advance(by: count)
        }
    }
}

/// One layer's region, read row by row through the scale's `volume.npy`.
struct RegionPrefetch {
    let volumePath: String
    let region: VoxelRegion
    /// Index of the region's first voxel in the array, and the array's layout.
    let origin: Vec3
    let layout: NPYLayout
    let chunkCount: Int

    var rowBytes: Int { region.size.x * layout.voxelBytes }
    var byteCount: Int { rowBytes * region.size.y * region.size.z }

    init(path: String, scale: String?, region: VoxelRegion) throws {
        let manager = FileManager.default
        let layer: String, scaleName: String
        if manager.fileExists(atPath: path + "/info") {
            layer = path
            scaleName = scale ?? ""
        } else if manager.fileExists(atPath: path + "/volume.npy"), manager.fileExists(atPath: path + "/../info") {
            layer = (path as NSString).deletingLastPathComponent
            scaleName = (path as NSString).lastPathComponent
        } else {
            throw UserFacingError("\(path): not a layer or scale directory of a voxfs mount (no info or volume.npy)")
        }
        guard let json = manager.contents(atPath: layer + "/info") else { throw UserFacingError("\(layer)/info: cannot read") }
        let info: PrecomputedInfo
        do { info = try PrecomputedInfo(json: Array(json), url: layer + "/info") } catch {
            throw UserFacingError("\(error)")
        }
        let geometries = info.scales.map(\.geometry)
        let names = geometries.map(ImageLayerDirectory.directoryName)
        guard let index = scaleName.isEmpty ? 0 : names.firstIndex(of: scaleName) else {
            throw UserFacingError("\(layer): no scale '\(scaleName)' (scales: \(names.joined(separator: ", ")))")
        }
        let geometry = geometries[index]
        let low = geometry.voxelOffset, high = geometry.voxelOffset + geometry.size
        guard region.lower.x >= low.x, region.lower.y >= low.y, region.lower.z >= low.z,
              region.upper.x <= high.x, region.upper.y <= high.y, region.upper.z <= high.z else {
            throw UserFacingError("region \(low.x)..\(high.x), \(low.y)..\(high.y), \(low.z)..\(high.z) of scale '\(names[index])' does not contain the --region")
        }
        volumePath = layer + "/" + names[index] + "/volume.npy"
        layout = try NPYLayout(reading: volumePath)
        self.region = region
        origin = region.lower - low
        let chunk = geometry.chunkSize
        func cells(_ lower: Int, _ upper: Int, _ offset: Int, _ size: Int) -> Int {
            (upper - offset + size - 1) / size - (lower - offset) / size
        }
        chunkCount = cells(region.lower.x, region.upper.x, low.x, chunk.x) * cells(region.lower.y, region.upper.y, low.y, chunk.y)
            * cells(region.lower.z, region.upper.z, low.z, chunk.z)
    }

    func run(_ progress: PrefetchProgress) throws {
        let fd = open(volumePath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw UserFacingError("\(volumePath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // Rows are far apart in the file: kernel readahead would only fetch chunks outside the box.
        posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM)
        var row = [UInt8](repeating: 0, count: rowBytes)
        for z in origin.z..<(origin.z + region.size.z) {
            for y in origin.y..<(origin.y + region.size.y) {
                if interrupted.load(ordering: .relaxed) { return }
                let offset = layout.headerBytes + ((z * layout.shape.y + y) * layout.shape.x + origin.x) * layout.voxelBytes
                let count = row.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
                guard count == rowBytes else {
                    throw UserFacingError("\(volumePath) z \(z) y \(y): " + (count < 0 ? String(cString: strerror(errno)) : "short read"))
                }
                progress.advance(by: count)
            }
        }
    }
}

/// The shape and header size of a `.npy` file: enough to address its voxels.
struct NPYLayout {
    var headerBytes: Int
    /// Z, Y, X.
    var shape: (z: Int, y: Int, x: Int)
    /// Bytes per voxel, channels included.
    var voxelBytes: Int

    init(reading path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path), let head = try? handle.read(upToCount: 4096) else {
            throw UserFacingError("\(path): cannot read")
        }
        try? handle.close()
        let array: NPYArray
        do { array = try NPYArray(header: Array(head)) } catch { throw UserFacingError("\(path): \(error)") }
        let dims = array.shape
        guard dims.count == 3 || dims.count == 4 else { throw UserFacingError("\(path): expected a (Z, Y, X[, C]) array") }
        headerBytes = array.dataOffset
        shape = (dims[0], dims[1], dims[2])
        voxelBytes = array.itemSize * (dims.count == 4 ? dims[3] : 1)
    }
}
