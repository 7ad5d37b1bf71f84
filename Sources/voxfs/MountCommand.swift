import ArgumentParser
import Foundation
import VoxFUSE
import VoxNamespace
import VoxTransport

struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount the sources of a config file; returns once the mount answers.")

    @Argument(help: "YAML config naming the sources to mount.")
    var config: String

    @Argument(help: "Existing empty directory to mount on.")
    var mountpoint: String

    @Option(name: .customLong("cache-dir"), help: "Disk cache directory (overrides cache.dir; default $XDG_CACHE_HOME/voxfs or ~/.cache/voxfs).")
    var cacheDirectory: String?

    @Option(name: .customLong("cache-size"), help: "Disk cache bound, e.g. 20GiB (overrides cache.size; default 10GiB or 10% of free space, whichever is smaller).")
    var cacheSize: String?

    @OptionGroup var options: MountOptions

    func run() throws {
        let mountpoint = Mountpoint.absolute(self.mountpoint)
        let configPath = Mountpoint.absolute(config)
        let readiness = ReadinessPipe(fd: options.readyFD)
        do {
            let listed = try options.mountOptions()
            try options.applyLogLevel()
            listed.applyNetworkSettings()
            var config = try MountConfig.load(path: configPath)
            let cacheDirectory = self.cacheDirectory ?? listed.cacheDirectory
            let cacheSize = self.cacheSize ?? listed.cacheSize
            if let cacheDirectory { config.cacheDirectory = cacheDirectory }
            if let cacheSize {
                guard let bytes = ByteSize.parse(cacheSize) else { throw UserFacingError("cache size '\(cacheSize)' is not a size like 20GiB") }
                config.cacheSize = bytes
            }
            try Mountpoint.checkUsable(mountpoint)
            let memory = try options.memoryBytes()
            if options.foreground {
                try MountService.serve(config: config, configPath: configPath, mountpoint: mountpoint, memoryBytes: memory,
                                       fuseOptions: listed.fuse, readiness: readiness)
            } else {
                var child = ["mount", configPath, mountpoint, "--foreground", "--ready-fd", "3", "--memory", String(memory)]
                child += (listed.fuse + listed.network).flatMap { ["-o", $0] }
                child += (options.logLevel ?? listed.logLevel).map { ["--log-level", $0] } ?? []
                child += cacheDirectory.map { ["--cache-dir", CacheLocation.expand($0)] } ?? []
                child += cacheSize.map { ["--cache-size", $0] } ?? []
                try Daemon.start(arguments: child, mountpoint: mountpoint, logFile: options.effectiveLogFile.map(Mountpoint.absolute))
            }
        } catch {
            readiness.failed("\(error)")
            fail("\(error)")
        }
    }
}

/// Opening sources and serving them: what the foreground (or daemon) process does.
enum MountService {
    static func serve(
        config: MountConfig, configPath: String, mountpoint: String, memoryBytes: Int, fuseOptions: [String], readiness: ReadinessPipe
    ) throws {
        let environment = ProcessInfo.processInfo.environment
        let budget = MemoryBudget(bytes: memoryBytes)
        AllocatorTuning.apply(budget)
        // A size of 0 turns the disk tier off, as rclone's `--vfs-cache-mode off`: every read
        // that misses memory goes to the network, and nothing is written locally.
        let disk = config.cacheSize == 0
            ? nil : try CacheLocation.open(directory: config.cacheDirectory, size: config.cacheSize, writeBuffer: budget.diskWriteBuffer)
        let served = ServedCounters()
        let identity = MountStatistics.Identity(config: configPath, mounts: config.mounts.map(\.path), pid: Int(getpid()))
        let root = try runBlocking {
            try await MountedTree.build(
                config: config, environment: environment, memory: budget, disk: disk,
                statistics: { MountStatistics.json(identity: identity, memory: budget, disk: disk, served: served) })
        }
        let filesystem = FuseFilesystem(root: root, served: served)
        try FuseSession.run(filesystem, mountpoint: mountpoint, options: fuseOptions,
                            readaheadKilobytes: config.kernelReadaheadKilobytes(budget: budget)) {
            Log.info("mounted \(config.mounts.map(\.path).joined(separator: ", ")) at \(mountpoint), "
                     + (disk.map { "cache \($0.directory)" } ?? "no disk cache"))
            readiness.ready()
        }
        disk?.flush()
        Log.info("unmounted \(mountpoint)")
    }
}
