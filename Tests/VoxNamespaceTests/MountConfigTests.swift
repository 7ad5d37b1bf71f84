import Testing
import VoxSources
import VoxNamespace

@Suite struct MountConfigTests {
    @Test func shortAndLongFormsAndCache() throws {
        let config = try MountConfig.parse("""
            mounts:
              /minnie65/em: precomputed://gs://iarpa_microns/minnie/minnie65/em
              /local/em:
                source: precomputed://http://127.0.0.1:8080/em/
                fill_missing: false
            cache:
              dir: ~/.cache/voxfs
              size: 20GiB
            """)
        #expect(config.mounts.map(\.path) == ["/minnie65/em", "/local/em"])
        #expect(config.mounts[0].source.storageURL == "gs://iarpa_microns/minnie/minnie65/em")
        #expect(config.mounts[0].fillMissing)
        #expect(config.mounts[1].source.storageURL == "http://127.0.0.1:8080/em")
        #expect(!config.mounts[1].fillMissing)
        #expect(config.cacheDirectory == "~/.cache/voxfs")
        #expect(config.cacheSize == 20 << 30)
    }

    @Test(arguments: [
        ("mount:\n  /a: precomputed://http://h/a\n", "mount: unknown key 'mount'"),
        ("mounts:\n  /a:\n    sorce: precomputed://http://h/a\n", "mounts./a.sorce: unknown key 'sorce'"),
        ("mounts:\n  a/b: precomputed://http://h/a\n", "mounts.a/b: mount paths must be absolute"),
        ("mounts:\n  /a: zarr://http://h/a\n", "mounts./a: source 'zarr://http://h/a': unknown format 'zarr://'"),
        ("mounts:\n  /k: bossdb://coll/exp\n", "mounts./k: source 'bossdb://coll/exp': expected bossdb://<collection>/<experiment>/<channel>"),
        ("mounts:\n  /k:\n    source: ocp+http://h/ocp/ca/tok\n    token: x\n", "mounts./k.token: only bossdb:// sources take 'token'"),
        ("mounts:\n  /k:\n    source: bossdb://c/e/ch\n    api: ftp://x\n", "mounts./k.api: 'ftp://x' is not an http(s) URL"),
        ("mounts:\n  /a: ftp://h/a\n", "mounts./a: source 'ftp://h/a': unknown format 'ftp://'"),
        ("mounts:\n  /a: s3:///nobucket/\n", "mounts./a: source 's3:///nobucket/': URL 's3:///nobucket/' has no bucket"),
        ("mounts:\n  /a:\n    source: http://h/d/\n    fill_missing: true\n", "mounts./a.fill_missing: only precomputed and hdf5grid sources"),
        ("mounts:\n  /a:\n    source: precomputed://http://h/a\n    block_size: 1MiB\n", "mounts./a.block_size: only file trees"),
        ("mounts:\n  /a:\n    source: http://h/d/\n    block_size: 1KiB\n", "mounts./a.block_size: '1KiB' is not a size from 4096"),
        ("mounts:\n  /a: precomputed://ftp://h/a\n", "mounts./a: source 'precomputed://ftp://h/a'"),
        ("mounts:\n  /a: precomputed://http://h/a\n  /a/b: precomputed://http://h/b\n", "mounts./a/b: overlaps mounts./a"),
        ("mounts:\n  /a: precomputed://http://h/a\ncache:\n  size: lots\n", "cache.size: 'lots' is not a size"),
        ("mounts:\n  /a:\n    source: precomputed://http://h/a\n    fill_missing: maybe\n", "mounts./a.fill_missing: expected true or false"),
        ("mounts: {}\n", "'mounts' must map virtual paths to sources"),
        ("mounts:\n  /../x: precomputed://http://h/a\n", "path component '..' is not allowed"),
        ("- just\n- a list\n", "must be a mapping"),
        ("mounts: [unclosed\n", "not valid YAML"),
        ("mounts:\n  /g:\n    source: hdf5grid+http://h/d/\n    cube: [1, 1, 1]\n    resolution: [1, 1, 1]\n",
         "mounts./g: an hdf5grid source needs 'pattern'"),
        ("mounts:\n  /g:\n    source: hdf5grid+http://h/d/\n    pattern: 'x{x}y{y}'\n    cube: [1, 1, 1]\n    resolution: [1, 1, 1]\n",
         "mounts./g.pattern: pattern 'x{x}y{y}' must contain {z} once"),
        ("mounts:\n  /g:\n    source: hdf5grid+http://h/d/\n    pattern: '{x}{y}{z}'\n    cube: [0, 1, 1]\n    resolution: [1, 1, 1]\n",
         "mounts./g.cube: cube [0, 1, 1] must be positive"),
        ("mounts:\n  /g:\n    source: hdf5grid+http://h/d/\n    pattern: '{x}{y}{z}'\n    cube: [1, 1, 1]\n    resolution: [1, 2]\n",
         "mounts./g.resolution: expected three numbers [x, y, z]"),
        ("mounts:\n  /g:\n    source: hdf5grid+http://h/d/\n    pattern: '{x}{y}{z}'\n    cube: [1.5, 1, 1]\n    resolution: [1, 1, 1]\n",
         "mounts./g.cube: expected three integers [x, y, z]"),
        ("mounts:\n  /g: hdf5grid+zarr://h/d/\n", "mounts./g: source 'hdf5grid+zarr://h/d/': expected hdf5grid+ before a directory URL"),
        ("mounts:\n  /a:\n    source: precomputed://http://h/a\n    pattern: '{x}{y}{z}'\n", "mounts./a.pattern: only hdf5grid+ sources"),
        ("mounts:\n  /a:\n    source: http://h/d/\n    max_cutout: 1GiB\n", "mounts./a.max_cutout: only volumes have cutouts"),
        ("mounts:\n  /a:\n    source: precomputed://http://h/a\n    max_cutout: huge\n", "mounts./a.max_cutout: 'huge' is not a size"),
    ])
    func badConfigsSayWhatIsWrong(yaml: String, message: String) {
        #expect { _ = try MountConfig.parse(yaml) } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func fileTreesWithOptions() throws {
        let config = try MountConfig.parse("""
            mounts:
              /l4dense: webdav+https://l4dense2019.brain.mpg.de/webdav/
              /tables: s3://bossdb-open-data/iarpa_microns/minnie/minnie65/
              /skeletons:
                source: gs://microns-static-links/skel/swc/
                block_size: 4MiB
                readahead: 16MiB
            """)
        #expect(config.mounts.map(\.source.format) == [.files, .files, .files])
        #expect(config.mounts[0].source.storageURL == "webdav+https://l4dense2019.brain.mpg.de/webdav/")
        #expect(config.mounts[0].blockSize == 1 << 20)
        #expect(config.mounts[2].blockSize == 4 << 20)
        #expect(config.mounts[2].readahead == 16 << 20)
    }

    @Test func cutoutServices() throws {
        let config = try MountConfig.parse("""
            mounts:
              /kasthuri11/em: ocp+http://openconnecto.me/ocp/ca/kasthuri11cc/
              /kasthuri2015/em:
                source: bossdb://kasthuri2015/em/cc
                api: http://127.0.0.1:8000
                token: secret
            """)
        #expect(config.mounts.map(\.source.format) == [.ocp, .bossdb])
        #expect(config.mounts[0].source.storageURL == "http://openconnecto.me/ocp/ca/kasthuri11cc")
        #expect(config.mounts[1].source.storageURL == "kasthuri2015/em/cc")
        #expect(config.mounts[1].api == "http://127.0.0.1:8000")
        #expect(config.mounts[1].token == "secret")
    }

    @Test func hdf5GridsAndCutoutLimits() throws {
        let config = try MountConfig.parse("""
            mounts:
              /l4dense-volumes/em:
                source: hdf5grid+webdav+https://l4dense2019.brain.mpg.de/webdav/electron-microscopy-volume
                pattern: "x{x}y{y}z{z}.hdf5"
                cube: [1024, 1024, 1024]
                resolution: [11.24, 11.24, 28]
                origin: [1, 1, 1]
                max_cutout: 4GiB
                fill_missing: false
              /em: precomputed://https://h/em
            """)
        let grid = config.mounts[0]
        #expect(grid.source.format == .hdf5grid)
        #expect(grid.source.storageURL == "webdav+https://l4dense2019.brain.mpg.de/webdav/electron-microscopy-volume/")
        #expect(grid.grid == (try HDF5GridLayout(
            pattern: "x{x}y{y}z{z}.hdf5", dataset: "/data", cube: Vec3(1024, 1024, 1024), resolution: [11.24, 11.24, 28], origin: Vec3(1, 1, 1))))
        #expect(grid.maxCutout == 4 << 30 && !grid.fillMissing)
        #expect(config.mounts[1].maxCutout == 2 << 30 && config.mounts[1].grid == nil)
    }

    @Test func sizes() {
        #expect(ByteSize.parse("512MiB") == 512 << 20)
        #expect(ByteSize.parse("10GB") == 10_000_000_000)
        #expect(ByteSize.parse("1.5GiB") == 3 << 29)
        #expect(ByteSize.parse("4096") == 4096)
        #expect(ByteSize.parse("-1GiB") == nil)
        #expect(ByteSize.parse("big") == nil)
    }

    @Test func readaheadSuitsTheMounts() throws {
        let volumes = try MountConfig.parse("""
            mounts:
              /em: precomputed://http://127.0.0.1:8080/em
            """)
        let withFiles = try MountConfig.parse("""
            mounts:
              /em: precomputed://http://127.0.0.1:8080/em
              /files: http://127.0.0.1:8080/files/
            """)
        #expect(volumes.kernelReadaheadKilobytes(budget: MemoryBudget()) == 256)
        #expect(withFiles.kernelReadaheadKilobytes(budget: MemoryBudget()) == 1024)
        #expect(withFiles.kernelReadaheadKilobytes(budget: MemoryBudget(bytes: 128 << 20)) == nil)
    }
}
