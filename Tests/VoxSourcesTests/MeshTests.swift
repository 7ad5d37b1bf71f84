import Foundation
import Testing
import VoxTransport
@testable import VoxSources

@Suite struct MeshTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Triangles as sets of corner coordinates: vertex order and duplication do not matter.
    static func triangleSet(_ mesh: SegmentMesh) -> Set<[Float]> {
        Set((0..<mesh.triangleCount).map { t in
            let corners = (0..<3).map { c in Array(mesh.vertices[(3 * Int(mesh.triangles[3 * t + c]))..<(3 * Int(mesh.triangles[3 * t + c]) + 3)]) }
            return corners.sorted { $0.lexicographicallyPrecedes($1) }.flatMap { $0 }
        })
    }

    static let fragmentTriangles: [[Float]] = [
        [0, 0, 0, 1023, 0, 0, 0, 1023, 0], [0, 0, 0, 1023, 0, 0, 0, 0, 1023], [0, 0, 0, 0, 1023, 0, 0, 0, 1023],
        [0, 1023, 0, 512, 512, 512, 1023, 0, 0],
    ]

    @Test func dracoFragmentsDecode() throws {
        let bytes = Array(try Data(contentsOf: Self.fixtures.appendingPathComponent("draco_fragment.drc")))
        let mesh = try DracoMesh.decode(bytes)
        let expected = Set(Self.fragmentTriangles.map { corners in
            (0..<3).map { Array(corners[(3 * $0)..<(3 * $0 + 3)]) }.sorted { $0.lexicographicallyPrecedes($1) }.flatMap { $0 }
        })
        #expect(Self.triangleSet(mesh) == expected)
        #expect(throws: MeshDecodeError.self) { try DracoMesh.decode(Array(bytes.prefix(40))) }
        #expect(throws: MeshDecodeError.self) { try DracoMesh.decode([UInt8](repeating: 0x41, count: 200)) }
        #expect(throws: MeshDecodeError.self) { try DracoMesh.decode([]) }
    }

    static func manifest(levels: [[(position: [UInt32], size: UInt32)]]) -> [UInt8] {
        var out: [UInt8] = []
        func f(_ value: Float) { withUnsafeBytes(of: value.bitPattern.littleEndian) { out += $0 } }
        func u(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
        [8, 8, 8].forEach { f($0) }             // chunk shape
        [100, 200, 300].forEach { f($0) }       // grid origin
        u(UInt32(levels.count))
        levels.indices.forEach { f(Float(1 << $0)) }
        levels.indices.forEach { lod in [Float(lod), 0, 0].forEach { f($0) } }  // vertex offsets
        levels.forEach { u(UInt32($0.count)) }
        for level in levels {
            for axis in 0..<3 { level.forEach { u($0.position[axis]) } }
            level.forEach { u($0.size) }
        }
        return out
    }

    @Test func manifestsPlaceFragmentsOnTheirGridAndThroughTheTransform() throws {
        let fragment = Array(try Data(contentsOf: Self.fixtures.appendingPathComponent("draco_fragment.drc")))
        let bytes = Self.manifest(levels: [[([0, 0, 0], 0), ([2, 1, 0], UInt32(fragment.count))], [([0, 0, 0], UInt32(fragment.count))]])
        let manifest = try MultiResolutionManifest(bytes)
        #expect(manifest.levelCount == 2 && manifest.totalFragmentBytes == 2 * fragment.count)
        #expect(manifest.range(ofLevel: 1) == fragment.count..<(2 * fragment.count))
        // Transform: x scaled by 2, z shifted by 5.
        let transform: [Double] = [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 5]
        let mesh = try manifest.mesh(lod: 1, data: fragment, quantizationBits: 10, transform: transform)
        // lod 1: origin 100,200,300 + offset (1,0,0) + 16 * (0 + q/1023): q = 1023 -> +16.
        let corners = Set((0..<mesh.vertexCount).map { Array(mesh.vertices[(3 * $0)..<(3 * $0 + 3)]) })
        #expect(corners.contains([2 * 101, 200, 305]) && corners.contains([2 * 117, 200, 305]) && corners.contains([2 * 101, 200, 321]))
        let level0 = try manifest.mesh(lod: 0, data: fragment, quantizationBits: 10, transform: transform)
        #expect(level0.vertices.contains(2 * (100 + 8 * 2)))  // fragment at grid x = 2
        #expect(throws: MeshDecodeError.self) { try MultiResolutionManifest(Array(bytes.dropLast(2))) }
        #expect(throws: MeshDecodeError.self) { try MultiResolutionManifest(bytes + [0, 0, 0, 0]) }
        #expect(throws: MeshDecodeError.self) { try manifest.mesh(lod: 1, data: Array(fragment.dropLast()), quantizationBits: 10, transform: transform) }
    }

    static func legacyFragment(_ vertices: [Float], _ triangles: [UInt32]) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt32(vertices.count / 3).littleEndian) { out += $0 }
        for v in vertices { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        for t in triangles { withUnsafeBytes(of: t.littleEndian) { out += $0 } }
        return out
    }

    @Test func legacyMeshesJoinTheirFragments() async throws {
        let store = MemoryStore([
            "mesh/7:0": Array(#"{"fragments": ["7:0:a", "7:0:b"]}"#.utf8),
            "mesh/7:0:a": Self.legacyFragment([0, 0, 0, 1, 0, 0, 0, 1, 0], [0, 1, 2]),
            "mesh/7:0:b": Self.legacyFragment([5, 5, 5, 6, 5, 5, 5, 6, 5, 5, 5, 6], [0, 1, 2, 0, 2, 3]),
            "mesh/8:0": Array(#"{"fragments": ["8:0:bad"]}"#.utf8),
            "mesh/8:0:bad": Self.legacyFragment([0, 0, 0], [0, 1, 2]),
            "mesh/9:0": Array(#"{"fragments": ["../../etc/passwd"]}"#.utf8),
        ])
        let source = try await MeshSources.open(store: store, directory: "mesh", caches: .inMemory())
        let mesh = try #require(try await source.mesh(7, lod: 0))
        #expect(mesh.vertexCount == 7 && mesh.triangles == [0, 1, 2, 3, 4, 5, 3, 5, 6])
        #expect(try await source.mesh(6, lod: 0) == nil)
        #expect(try await source.mesh(7, lod: 1) == nil)
        await #expect(throws: SourceError.self) { try await source.mesh(8, lod: 0) }
        await #expect(throws: SourceError.self) { try await source.mesh(9, lod: 0) }
    }

    @Test func skeletonsDecodeWithAttributesAndTransform() async throws {
        var bytes: [UInt8] = []
        func u(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        func f(_ value: Float) { u(value.bitPattern) }
        u(3); u(2)
        [0, 0, 0, 1, 0, 0, 1, 1, 0].forEach { f($0) }
        [0, 1, 1, 2].forEach { u($0) }
        [0.5, 1.5, 2.5].forEach { f($0) }   // radius
        bytes += [1, 3, 3]                   // vertex_types, uint8
        let info = #"{"@type": "neuroglancer_skeletons", "transform": [2, 0, 0, 10, 0, 2, 0, 0, 0, 0, 2, 0], "vertex_attributes": [{"id": "radius", "data_type": "float32", "num_components": 1}, {"id": "vertex_types", "data_type": "uint8", "num_components": 1}]}"#
        let store = MemoryStore(["sk/info": Array(info.utf8), "sk/5": bytes, "sk/6": Array(bytes.dropLast(4))])
        let source = try await SkeletonSource.open(store: store, directory: "sk", caches: .inMemory())
        let skeleton = try #require(try await source.skeleton(5))
        #expect(skeleton.vertices == [10, 0, 0, 12, 0, 0, 12, 2, 0])
        #expect(skeleton.edges == [0, 1, 1, 2] && skeleton.radii == [0.5, 1.5, 2.5] && skeleton.compartments == [1, 3, 3])
        #expect(try await source.skeleton(4) == nil)
        await #expect(throws: SourceError.self) { try await source.skeleton(6) }
    }

    @Test func segmentIDsAreDecimalUInt64() {
        #expect(MeshSources.segmentID("864691135122603047") == 864_691_135_122_603_047)
        for bad in ["", "-1", "+1", "1e3", "18446744073709551616", "0x10", "١٢"] { #expect(MeshSources.segmentID(Substring(bad)) == nil, "\(bad)") }
    }
}
