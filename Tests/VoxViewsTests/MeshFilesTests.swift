import Testing
import VoxSources
@testable import VoxViews

@Suite struct MeshFilesTests {
    let mesh = SegmentMesh(vertices: [0, 0, 0, 1.5, 0, 0, 0, 2, 0, 0, 0, -3], triangles: [0, 1, 2, 0, 2, 3])

    @Test func plyIsAHeaderThenLittleEndianVerticesAndFaces() {
        let bytes = MeshFiles.ply(mesh, comment: "segment 7\nsecond line")
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("ply\nformat binary_little_endian 1.0\ncomment segment 7 second line\nelement vertex 4\n"))
        let end = Array("end_header\n".utf8)
        let headerLength = (0...(bytes.count - end.count)).first { Array(bytes[$0..<($0 + end.count)]) == end }! + end.count
        #expect(bytes.count == headerLength + 4 * 12 + 2 * 13)
        let body = Array(bytes[headerLength...])
        #expect(Array(body[12..<16]) == [0, 0, 0xC0, 0x3F])      // 1.5f
        #expect(Array(body[48..<61]) == [3, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0])
    }

    @Test func objUsesOneBasedFaces() {
        let text = String(decoding: MeshFiles.obj(mesh, comment: "c"), as: UTF8.self)
        #expect(text == "# c\nv 0 0 0\nv 1.5 0 0\nv 0 2 0\nv 0 0 -3\nf 1 2 3\nf 1 3 4\n")
    }

    /// A tree with a cycle (0-1-2-0) and a second piece (3-4): parents come before children,
    /// each piece has one root, and the cycle's closing edge is dropped.
    @Test func swcWalksEachPieceBreadthFirst() {
        let skeleton = Skeleton(
            vertices: [0, 0, 0, 1, 0, 0, 2, 0, 0, 9, 9, 9, 9, 9, 8], edges: [1, 0, 1, 2, 2, 0, 4, 3],
            radii: [1, 2, 3, 4, 5], compartments: [1, 3, 3, 2, 2])
        let lines = String(decoding: MeshFiles.swc(skeleton, comment: "s"), as: UTF8.self).split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines == ["1 1 0 0 0 1 -1", "2 3 1 0 0 2 1", "3 3 2 0 0 3 1", "4 2 9 9 9 4 -1", "5 2 9 9 8 5 4"])
    }
}
