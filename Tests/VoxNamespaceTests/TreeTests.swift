import Foundation
import Glibc
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

    /// A raw uint16 layer whose voxel at absolute (x, y, z) is x + 10 y + 100 z, offset (2, 3, 5).
    func cutouts(maxBytes: Int = 1 << 20) async throws -> VirtualDirectory {
        let info = #"{"type": "image", "data_type": "uint16", "scales": [{"key": "s", "size": [6, 4, 5], "voxel_offset": [2, 3, 5], "chunk_sizes": [[4, 4, 2]], "resolution": [4, 4, 40], "encoding": "raw"}]}"#
        let store = MemoryStore(["info": Array(info.utf8)])
        let scale = ScaleGeometry(key: "s", size: Vec3(6, 4, 5), voxelOffset: Vec3(2, 3, 5), chunkSize: Vec3(4, 4, 2), resolution: [4, 4, 40], encoding: "raw")
        for gz in 0..<3 { for gx in 0..<2 {
            let (begin, end) = scale.chunkBounds(Vec3(gx, 0, gz))
            var bytes: [UInt8] = []
            for z in begin.z..<end.z { for y in begin.y..<end.y { for x in begin.x..<end.x {
                let value = UInt16((x + 2) + 10 * (y + 3) + 100 * (z + 5))
                bytes += [UInt8(value & 0xFF), UInt8(value >> 8)]
            } } }
            store.put(UnshardedChunkReader.chunkKey(scale: scale, cell: Vec3(gx, 0, gz)), bytes)
        } }
        let volume = try await PrecomputedVolume.open(store: store, caches: .inMemory())
        let settings = CutoutSettings(maxBytes: maxBytes, source: "precomputed://memory://layer", scratchDirectory: FileManager.default.temporaryDirectory.path)
        let directory = ScaleDirectory(path: "/v/s", volume: volume, scale: 0, bandCache: MemoryCache(capacity: 1 << 20), cutouts: settings)
        #expect(directory.entryNames().last == "cutout")
        guard case let .directory(cutouts)? = directory.child(named: "cutout") else { throw CancellationError() }
        return cutouts
    }

    func expectedBox(_ begin: Vec3, _ end: Vec3) -> [UInt8] {
        var bytes: [UInt8] = []
        for z in begin.z..<end.z { for y in begin.y..<end.y { for x in begin.x..<end.x {
            let value = UInt16(x + 10 * y + 100 * z)
            bytes += [UInt8(value & 0xFF), UInt8(value >> 8)]
        } } }
        return bytes
    }

    @Test func cutoutsAreAnyBoxByNameAndNeverListed() async throws {
        let cutouts = try await cutouts()
        #expect(cutouts.entryNames().isEmpty)
        guard case let .file(npy)? = cutouts.child(named: "3-7_4-6_6-9.npy") else { Issue.record("no npy"); return }
        let header = NPYHeader.make(dataType: .uint16, shape: [3, 2, 4])
        #expect(npy.size == header.count + 3 * 2 * 4 * 2)
        #expect(try await npy.read(offset: 0, count: npy.size) == header + expectedBox(Vec3(3, 4, 6), Vec3(7, 6, 9)))
        guard case let .file(h5)? = cutouts.child(named: "2-8_3-7_5-10.h5") else { Issue.record("no h5"); return }
        let file = try await h5.read(offset: 0, count: h5.size)
        #expect(file.count == h5.size)
        let array = try HDF5Array.read(file: file, datasets: ["/data"])
        #expect(array.shape == [5, 4, 6] && array.dataType == .uint16)
        #expect(array.bytes == expectedBox(Vec3(2, 3, 5), Vec3(8, 7, 10)))
        guard case let .file(tif)? = cutouts.child(named: "7-8_6-7_9-10.tif") else { Issue.record("no tif"); return }
        #expect(try await tif.read(offset: tif.size - 2, count: 2) == expectedBox(Vec3(7, 6, 9), Vec3(8, 7, 10)))
    }

    @Test(arguments: ["1-3_3-4_5-6.npy", "2-9_3-4_5-6.npy", "3-3_3-4_5-6.npy", "4-3_3-4_5-6.npy", "2-3_3-4.npy", "2-3_3-4_5-6.png",
                      "2-3_3-4_5-6", "a-b_3-4_5-6.npy", "2-3_3-4_5-6_1-2.npy", "2--3_3-4_5-6.npy", "2-3_3-4_5-6.NPY", ".npy"])
    func malformedOrOutOfBoundsCutoutsAreENOENT(name: String) async throws {
        let cutouts = try await cutouts()
        #expect(cutouts.child(named: name) == nil)
        #expect(cutouts.refusal(for: name) == nil)
    }

    @Test func cutoutsOverTheLimitAreEFBIG() async throws {
        let cutouts = try await cutouts(maxBytes: 100)
        #expect(cutouts.child(named: "2-7_3-7_5-6.npy") != nil)  // 5 * 4 * 2 bytes
        #expect(cutouts.child(named: "2-8_3-7_5-10.h5") == nil)
        #expect(cutouts.refusal(for: "2-8_3-7_5-10.h5") == EFBIG)
    }

    @Test func boxNamesMayBeNegative() {
        #expect(CutoutDirectory.parseBox("-10--2_0-5_-3-4").map { [$0.0, $0.1] } == [Vec3(-10, 0, -3), Vec3(-2, 5, 4)])
        #expect(CutoutDirectory.parseBox("1-2_3-4") == nil)
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
