import ArgumentParser

@main
struct Voxfs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voxfs",
        abstract: "Mount remote connectomics volumes as a read-only tree of PNG, TIFF and NPY files.",
        subcommands: [MountCommand.self, UnmountCommand.self, StatusCommand.self, CheckCommand.self, PrefetchCommand.self, DemoCommand.self, CacheCommand.self],
        // `voxfs CONFIG MOUNTPOINT -o opts` is how mount.fuse3 (mount -t fuse.voxfs, fstab) runs a helper.
        defaultSubcommand: MountCommand.self)
}

/// A failure already phrased for the user: printed as one line, exit status 1.
struct UserFacingError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Prints `voxfs: <message>` and exits non-zero.
func fail(_ message: String) -> Never {
    FileHandleOutput.standardError("voxfs: \(message)")
    Voxfs.exit(withError: ExitCode(1))
}
