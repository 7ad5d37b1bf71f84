import Testing
import VoxCache
import VoxSources
import VoxTransport
import VoxViews
@testable import VoxNamespace

@Suite struct TreeTests {
    static let info = """
        {"type": "image", "data_type": "uint8", "num_channels": 1, "scales": [
          {"key": "8_8_40", "size": [20, 10, 96], "voxel_offset": [0, 0, 5], "chunk_sizes": [[8, 8, 8]], "resolution": [8, 8, 40], "encoding": "raw"},
          {"key": "../weird/key", "size": [10, 5, 96], "voxel_offset": [0, 0, 5], "chunk_sizes": [[8, 8, 8]], "resolution": [16, 16, 40], "encoding": "raw"}]}
        """

    func layer() async throws -> ImageLayerDirectory {
        let store = MemoryStore(["info": Array(Self.info.utf8)])
        let volume = try await PrecomputedVolume.open(store: store, caches: .inMemory())
        return ImageLayerDirectory(path: "/em", volume: volume, infoJSON: volume.info.rawJSON, bandCache: MemoryCache(capacity: 1 << 20))
    }

    @Test func layerListsInfoAndScales() async throws {
        let layer = try await layer()
        #expect(layer.entryNames() == ["info", "8_8_40", "16_16_40"])
        guard case let .file(info)? = layer.child(named: "info") else { Issue.record("no info"); return }
        #expect(try await info.read(offset: 0, count: 1 << 20) == Array(Self.info.utf8))
    }

    @Test func slicesArePaddedToTheWidestZAndResolveUnpadded() async throws {
        guard case let .directory(scale)? = try await layer().child(named: "8_8_40") else { Issue.record("no scale"); return }
        let names = scale.entryNames()
        #expect(names.count == 96 * 3 + 1)
        #expect(Array(names.prefix(3)) == ["z005.png", "z005.tif", "z005.npy"])
        #expect(names.last == "volume.npy")
        let planes = names.dropLast().map { $0.prefix(4) }
        #expect(planes == planes.sorted())  // glob order is z order
        #expect(names.contains("z100.npy"))
        for name in ["z005.png", "z5.png", "z0100.tif", "z100.npy", "volume.npy"] {
            #expect(scale.child(named: name) != nil, "\(name)")
        }
        for name in ["z004.png", "z101.png", "z5.jpg", "z.png", "zz5.png", "z-5.png", "z٥.png", "info"] {
            #expect(scale.child(named: name) == nil, "\(name)")
        }
        guard case let .file(volume)? = scale.child(named: "volume.npy") else { return }
        let header = NPYHeader.make(dataType: .uint8, shape: [96, 10, 20])
        #expect(volume.size == header.count + 96 * 10 * 20)
    }

    @Test func negativeZIsNamedWithASign() async throws {
        let store = MemoryStore(["info": Array(#"{"type": "image", "data_type": "uint8", "scales": [{"key": "s", "size": [4, 4, 15], "voxel_offset": [0, 0, -3], "chunk_sizes": [[4, 4, 4]], "encoding": "raw"}]}"#.utf8)])
        let volume = try await PrecomputedVolume.open(store: store, caches: .inMemory())
        let scale = ScaleDirectory(path: "/x/s", volume: volume, scale: 0, bandCache: MemoryCache(capacity: 1 << 20))
        #expect(Array(scale.entryNames().prefix(3)) == ["z-03.png", "z-03.tif", "z-03.npy"])
        #expect(scale.entryNames().contains("z08.npy") && scale.entryNames().contains("z11.npy"))
        for name in ["z-3.png", "z-03.npy", "z0.tif", "z11.png"] { #expect(scale.child(named: name) != nil, "\(name)") }
        for name in ["z-4.png", "z12.png", "z--3.png", "z-.png"] { #expect(scale.child(named: name) == nil, "\(name)") }
    }

    @Test func treeAssemblesIntermediateDirectories() {
        let leaf = VirtualNode.directory(FixedDirectory([]))
        let root = MountedTree.assemble([("/minnie65/em", leaf), ("/minnie65/seg", leaf), ("/pinky/em", leaf)])
        guard case let .directory(top) = root else { Issue.record("root not a directory"); return }
        #expect(top.entryNames() == ["minnie65", "pinky"])
        guard case let .directory(minnie)? = top.child(named: "minnie65") else { Issue.record("no minnie65"); return }
        #expect(minnie.entryNames() == ["em", "seg"])
    }

    @Test func openErrorsNameTheMountAndURL() async {
        let config = try! MountConfig.parse("mounts:\n  /x/em: precomputed://http://127.0.0.1:9/nothing\n")
        await #expect { _ = try await MountedTree.build(config: config, environment: [:], memory: MemoryBudget(bytes: 64 << 20)) } throws: { error in
            let text = "\(error)"
            return text.contains("mounts./x/em") && text.contains("http://127.0.0.1:9/nothing/info")
        }
    }
}
