import Foundation
import Glibc

/// Starts the mount in a detached child and waits until it serves, or says why it did not.
///
/// Forking a process that already runs threads is unsafe, so the child is a fresh exec of
/// this binary with `--foreground --ready-fd 3`; it writes `ready` or `error: ...` to that pipe.
enum Daemon {
    /// glibc's POSIX_SPAWN_SETSID, hidden from Swift behind _GNU_SOURCE: the child leaves our session and terminal.
    private static let posixSpawnSetsid: Int16 = 0x80
    static let readyTimeoutSeconds: Int32 = 600

    static func start(arguments: [String], mountpoint: String, logFile: String?) throws {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw UserFacingError("pipe: \(String(cString: strerror(errno)))") }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        defer { close(readEnd) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let log = logFile ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Close our end first: it may be fd 3 itself.
        posix_spawn_file_actions_addclose(&actions, readEnd)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, posixSpawnSetsid)

        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        close(writeEnd)
        guard status == 0 else { throw UserFacingError("could not start the mount process: \(String(cString: strerror(status)))") }

        let message = readLine(from: readEnd, timeoutSeconds: readyTimeoutSeconds)
        switch message {
        case "ready"?:
            // The kernel mount exists; a stat goes through the daemon, so it proves it answers.
            guard Mountpoint.isFuseMount(mountpoint) else {
                throw UserFacingError("mount point \(mountpoint): the mount process reported ready but the mount does not answer")
            }
        case let line? where line.hasPrefix("error: "):
            throw UserFacingError(String(line.dropFirst("error: ".count)))
        case let line?:
            kill(pid, SIGTERM)
            throw UserFacingError("the mount process said '\(line)'")
        case nil:
            kill(pid, SIGTERM)
            throw UserFacingError("the mount process (pid \(pid)) exited or hung before the mount was ready" + (logFile.map { "; see \($0)" } ?? "; rerun with --log-file or --foreground"))
        }
    }

    private static func readLine(from fd: Int32, timeoutSeconds: Int32) -> String? {
        var collected: [UInt8] = []
        var byte: UInt8 = 0
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&poller, 1, timeoutSeconds * 1000)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return nil }
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { return collected.isEmpty ? nil : String(decoding: collected, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { return String(decoding: collected, as: UTF8.self) }
            collected.append(byte)
        }
    }
}

/// The child's end of the readiness pipe.
struct ReadinessPipe {
    let fd: Int32?

    func ready() { send("ready") }
    func failed(_ message: String) { send("error: " + message) }

    private func send(_ line: String) {
        guard let fd else { return }
        let bytes = Array((line.replacingOccurrences(of: "\n", with: " ") + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
