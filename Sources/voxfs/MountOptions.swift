import ArgumentParser
import VoxNamespace
import VoxTransport

/// Options shared by `mount` and `demo`.
struct MountOptions: ParsableArguments {
    @Flag(help: "Stay in the foreground instead of returning once the mount is ready.")
    var foreground = false

    @Option(help: "Memory bound for decoded chunks and rendered files, e.g. 512MiB.")
    var memory: String?

    @Option(name: .customLong("log-file"), help: "Append the daemon's log here (default: discard).")
    var logFile: String?

    @Option(name: .customLong("log-level"), help: "error, info (default) or debug.")
    var logLevel: String?

    @Option(
        name: .customShort("o"),
        help: """
            Mount options, comma-separated and repeatable: FUSE options such as allow_other, and \
            memory=, cache_dir=, cache_size=, log_file=, log_level= as in fstab; network deadlines \
            request_timeout= (seconds, default 120), stall_timeout= (seconds below 1 byte/s, default 15), \
            connect_timeout= (default 10) and attempts= (tries per request, default 4). Generic mount(8) \
            options (rw, defaults, noauto, _netdev, nofail, x-systemd.*, ...) are accepted and ignored.
            """)
    var rawOptions: [String] = []

    @Option(name: .customLong("ready-fd"), help: .hidden)
    var readyFD: Int32?

    /// `-o` split into what goes to libfuse and voxfs's own settings.
    func mountOptions() throws -> MountOptionList {
        try MountOptionList(rawOptions)
    }

    func memoryBytes() throws -> Int {
        let text = try memory ?? mountOptions().memory ?? "512MiB"
        guard let bytes = ByteSize.parse(text), bytes >= 128 << 20 else {
            throw UserFacingError("memory: '\(text)' is not a size of at least 128MiB")
        }
        return bytes
    }

    var effectiveLogFile: String? { logFile ?? (try? mountOptions())?.logFile }

    /// Applies `--log-level` (or `-o log_level=`) to this process.
    func applyLogLevel() throws {
        guard let name = try logLevel ?? mountOptions().logLevel else { return }
        guard let level = Log.Level(name: name) else {
            throw UserFacingError("log level '\(name)' is not one of: error, info, debug")
        }
        Log.setLevel(level)
    }
}

/// The `-o` options of a mount, as `mount(8)`, fstab and `mount.fuse3` hand them over.
struct MountOptionList: Equatable {
    /// Passed to libfuse.
    var fuse: [String] = []
    var memory: String?
    var cacheDirectory: String?
    var cacheSize: String?
    var logFile: String?
    var logLevel: String?
    /// Network deadline options as given, to hand on to the daemon, and what they set.
    var network: [String] = []
    var limits = TransferLimits.builtIn
    var attempts = RetryPolicy.builtInAttempts

    /// mount(8) and fstab options with no meaning for a read-only FUSE filesystem. `dev` and
    /// `suid` (which mount.fuse3 adds) are dropped too: voxfs serves neither device nodes nor
    /// setuid programs, so libfuse's `nodev,nosuid` stay.
    static let ignored: Set = ["rw", "ro", "defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group",
                               "_netdev", "nofail", "async", "sync", "relatime", "strictatime", "lazytime", "dev", "suid"]

    init(_ raw: [String]) throws {
        for option in raw.flatMap({ $0.split(separator: ",").map(String.init) }) where !option.isEmpty {
            let (name, value) = option.split(separator: "=", maxSplits: 1).map(String.init).pair
            switch name {
            case "memory": memory = try required(value, name)
            case "cache_dir": cacheDirectory = try required(value, name)
            case "cache_size": cacheSize = try required(value, name)
            case "log_file": logFile = try required(value, name)
            case "log_level": logLevel = try required(value, name)
            case "request_timeout", "stall_timeout", "connect_timeout":
                let seconds = try Self.seconds(required(value, name), name)
                switch name {
                case "request_timeout": limits.totalMilliseconds = Int((seconds * 1000).rounded(.up))
                case "connect_timeout": limits.connectMilliseconds = Int((seconds * 1000).rounded(.up))
                default: limits.stallSeconds = Int(seconds.rounded(.up))  // curl counts whole seconds
                }
                network.append(option)
            case "attempts":
                guard let count = Int(try required(value, name)), (1...10).contains(count) else {
                    throw UserFacingError("-o attempts= needs a whole number from 1 to 10")
                }
                attempts = count
                network.append(option)
            case _ where Self.ignored.contains(name) || name.hasPrefix("x-") || name == "comment":
                continue
            default:
                fuse.append(option)
            }
        }
    }

    private static func seconds(_ text: String, _ name: String) throws -> Double {
        guard let seconds = Double(text.hasSuffix("s") ? String(text.dropLast()) : text), seconds >= 0.1, seconds <= 86_400 else {
            throw UserFacingError("-o \(name)= needs seconds from 0.1 to 86400, like 30 or 2.5s")
        }
        return seconds
    }

    /// Makes the deadlines and attempts the process's defaults.
    func applyNetworkSettings() {
        NetworkDefaults.set(limits: limits, attempts: attempts)
    }

    private func required(_ value: String?, _ name: String) throws -> String {
        guard let value, !value.isEmpty else { throw UserFacingError("-o \(name)= needs a value") }
        return value
    }
}

private extension Array where Element == String {
    var pair: (String, String?) { (self[0], count > 1 ? self[1] : nil) }
}
