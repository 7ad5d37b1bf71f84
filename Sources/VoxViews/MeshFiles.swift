import VoxSources

/// Meshes and skeletons as the files tools open: binary PLY, OBJ and SWC, built whole
/// (their size is only known once the segment is decoded).
public enum MeshFiles {
    /// Binary little-endian PLY: float x y z per vertex, uchar-counted int indices per face.
    public static func ply(_ mesh: SegmentMesh, comment: String) -> [UInt8] {
        let header = """
            ply
            format binary_little_endian 1.0
            comment \(oneLine(comment))
            element vertex \(mesh.vertexCount)
            property float x
            property float y
            property float z
            element face \(mesh.triangleCount)
            property list uchar int vertex_indices
            end_header

            """
        var out = Array(header.utf8)
        out.reserveCapacity(out.count + mesh.vertices.count * 4 + mesh.triangleCount * 13)
        var writer = ByteWriter(bytes: out)
        for value in mesh.vertices { writer.u32(value.bitPattern) }
        for triangle in 0..<mesh.triangleCount {
            writer.bytes.append(3)
            for corner in 0..<3 { writer.u32(mesh.triangles[3 * triangle + corner]) }
        }
        return writer.bytes
    }

    /// Wavefront OBJ: `v x y z` lines, then `f a b c` with 1-based indices.
    public static func obj(_ mesh: SegmentMesh, comment: String) -> [UInt8] {
        var text = "# \(oneLine(comment))\n"
        text.reserveCapacity(mesh.vertices.count * 10 + mesh.triangles.count * 8)
        for vertex in 0..<mesh.vertexCount {
            text += "v \(number(mesh.vertices[3 * vertex])) \(number(mesh.vertices[3 * vertex + 1])) \(number(mesh.vertices[3 * vertex + 2]))\n"
        }
        for triangle in 0..<mesh.triangleCount {
            text += "f \(mesh.triangles[3 * triangle] + 1) \(mesh.triangles[3 * triangle + 1] + 1) \(mesh.triangles[3 * triangle + 2] + 1)\n"
        }
        return Array(text.utf8)
    }

    /// SWC: `id type x y z radius parent`, one line per vertex. Each connected piece is walked
    /// breadth-first from its lowest-numbered vertex, so every parent is listed before its
    /// children; edges that would close a cycle have no place in SWC and are left out.
    public static func swc(_ skeleton: Skeleton, comment: String) -> [UInt8] {
        let count = skeleton.vertexCount
        var neighbours = [[Int]](repeating: [], count: count)
        for edge in 0..<(skeleton.edges.count / 2) {
            let a = Int(skeleton.edges[2 * edge]), b = Int(skeleton.edges[2 * edge + 1])
            guard a != b else { continue }
            neighbours[a].append(b)
            neighbours[b].append(a)
        }
        var newID = [Int](repeating: 0, count: count)
        var text = "# \(oneLine(comment))\n# id type x y z radius parent\n"
        var next = 1
        for root in 0..<count where newID[root] == 0 {
            var queue = [(root, -1)]
            newID[root] = next
            next += 1
            var head = 0
            while head < queue.count {
                let (vertex, parent) = queue[head]
                head += 1
                let x = number(skeleton.vertices[3 * vertex]), y = number(skeleton.vertices[3 * vertex + 1])
                let z = number(skeleton.vertices[3 * vertex + 2])
                let type = skeleton.compartments?[vertex] ?? 0
                let radius = number(skeleton.radii?[vertex] ?? 0)
                text += "\(newID[vertex]) \(type) \(x) \(y) \(z) \(radius) \(parent)\n"
                for other in neighbours[vertex] where newID[other] == 0 {
                    newID[other] = next
                    next += 1
                    queue.append((other, newID[vertex]))
                }
            }
        }
        return Array(text.utf8)
    }

    /// The shortest text that reads back as the same float; whole numbers without `.0`.
    static func number(_ value: Float) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func oneLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
