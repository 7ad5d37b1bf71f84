import ArgumentParser
import Foundation
import VoxDemo
import VoxNamespace

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Mount a synthetic multi-scale EM volume (generated locally, no network) and print what to try.")

    @Argument(help: "Directory to mount on (created if missing).")
    var mountpoint: String

    @OptionGroup var options: MountOptions

    func run() throws {
        let mountpoint = Mountpoint.absolute(self.mountpoint)
        do {
            try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
            let home = Self.demoDirectory()
            let layer = home.appendingPathComponent("em")
            try SyntheticEM.write(to: layer)
            let configURL = home.appendingPathComponent("demo.yaml")
            try "mounts:\n  /demo/em: precomputed://file://\(layer.path)\n".write(to: configURL, atomically: true, encoding: .utf8)
            var mount = try MountCommand.parse([configURL.path, mountpoint])
            mount.options = options
            if !options.foreground { print(Self.instructions(mountpoint)) }
            try mount.run()
        } catch let error as UserFacingError {
            fail(error.description)
        } catch {
            fail("\(error)")
        }
    }

    /// `$XDG_DATA_HOME/voxfs/demo`, else `~/.local/share/voxfs/demo`: beside, not inside, the cache.
    static func demoDirectory() -> URL {
        let environment = ProcessInfo.processInfo.environment
        let data = environment["XDG_DATA_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share")
        return data.appendingPathComponent("voxfs/demo")
    }

    static func instructions(_ mountpoint: String) -> String {
        let s = SyntheticEM.size
        let slice = "\(mountpoint)/demo/em/8_8_40"
        return """
        voxfs demo: a synthetic \(s.x)x\(s.y)x\(s.z) EM volume, \(SyntheticEM.scaleCount) scales, JPEG chunks, mounted at \(mountpoint)
        Try:
          ls \(slice) | head
          python3 -c "from PIL import Image; im = Image.open('\(slice)/z24.png'); print(im.size, im.mode)"
          python3 -c "import numpy as np; a = np.load('\(slice)/volume.npy', mmap_mode='r'); print(a.shape, a[24, 100:200, 100:200].mean())"
          python3 -c "import tifffile; print(tifffile.imread('\(mountpoint)/demo/em/32_32_40/z10.tif').shape)"
          voxfs unmount \(mountpoint)
        """
    }
}
