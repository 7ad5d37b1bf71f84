import ArgumentParser
import Foundation
import Glibc

struct UnmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unmount", abstract: "Unmount a voxfs mount.")

    @Argument(help: "The mount point.")
    var mountpoint: String

    func run() throws {
        let path = Mountpoint.absolute(mountpoint)
        guard Mountpoint.isListedMount(path) else { fail("\(path) is not mounted") }
        // fusermount3 works for unprivileged users; umount2 covers root without it.
        if runFusermount(path) || umount2(path, 0) == 0 || umount2(path, Int32(MNT_DETACH)) == 0 { return }
        fail("could not unmount \(path): \(String(cString: strerror(errno)))")
    }

    private func runFusermount(_ path: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["fusermount3", "-u", "-q", path]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
