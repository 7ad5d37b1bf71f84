import Testing
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
        ("mounts:\n  /a: http://h/a\n", "mounts./a: source 'http://h/a': unknown format 'http://'"),
        ("mounts:\n  /a: precomputed://ftp://h/a\n", "mounts./a: source 'precomputed://ftp://h/a'"),
        ("mounts:\n  /a: precomputed://http://h/a\n  /a/b: precomputed://http://h/b\n", "mounts./a/b: overlaps mounts./a"),
        ("mounts:\n  /a: precomputed://http://h/a\ncache:\n  size: lots\n", "cache.size: 'lots' is not a size"),
        ("mounts:\n  /a:\n    source: precomputed://http://h/a\n    fill_missing: maybe\n", "mounts./a.fill_missing: expected true or false"),
        ("mounts: {}\n", "'mounts' must map virtual paths to sources"),
        ("mounts:\n  /../x: precomputed://http://h/a\n", "path component '..' is not allowed"),
        ("- just\n- a list\n", "must be a mapping"),
        ("mounts: [unclosed\n", "not valid YAML"),
    ])
    func badConfigsSayWhatIsWrong(yaml: String, message: String) {
        #expect { _ = try MountConfig.parse(yaml) } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func sizes() {
        #expect(ByteSize.parse("512MiB") == 512 << 20)
        #expect(ByteSize.parse("10GB") == 10_000_000_000)
        #expect(ByteSize.parse("1.5GiB") == 3 << 29)
        #expect(ByteSize.parse("4096") == 4096)
        #expect(ByteSize.parse("-1GiB") == nil)
        #expect(ByteSize.parse("big") == nil)
    }
}
