import VoxNamespace
import ArgumentParser

/// Options shared by `mount` and `demo`.
struct MountOptions: ParsableArguments {
    @Flag(help: "Stay in the foreground instead of returning once the mount is ready.")
    var foreground = false

    @Option(help: "Memory bound for decoded chunks and rendered files, e.g. 512MiB.")
    var memory = "512MiB"

    @Option(name: .customLong("log-file"), help: "Append the daemon's log here (default: discard).")
    var logFile: String?

    @Option(name: .customShort("o"), help: "Extra FUSE mount option, e.g. -o allow_other (repeatable).")
    var fuseOptions: [String] = []

    @Option(name: .customLong("ready-fd"), help: .hidden)
    var readyFD: Int32?

    func memoryBytes() throws -> Int {
        guard let bytes = ByteSize.parse(memory), bytes >= 128 << 20 else {
            throw UserFacingError("--memory: '\(memory)' is not a size of at least 128MiB")
        }
        return bytes
    }
}

