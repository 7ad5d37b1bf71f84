/// The manifest of one segment's multi-resolution mesh (`neuroglancer_multilod_draco`):
/// the grid its fragments live on, and per level of detail each fragment's grid position and
/// byte size (fragments are stored lod 0 first, in manifest order).
struct MultiResolutionManifest: Sendable, Equatable {
    var chunkShape: [Float]
    var gridOrigin: [Float]
    var lodScales: [Float]
    /// Per lod, x y z.
    var vertexOffsets: [[Float]]
    /// Per lod, per fragment: grid position x y z.
    var fragmentPositions: [[[UInt32]]]
    /// Per lod, per fragment: bytes.
    var fragmentSizes: [[Int]]

    static let maxLevels = 32

    init(_ bytes: [UInt8]) throws(MeshDecodeError) {
        var reader = LittleEndianReader(bytes)
        chunkShape = try reader.float32s(3)
        gridOrigin = try reader.float32s(3)
        let levels = Int(try reader.uint32())
        guard (1...Self.maxLevels).contains(levels) else { throw MeshDecodeError("manifest: \(levels) levels of detail") }
        lodScales = try reader.float32s(levels)
        let offsets = try reader.float32s(3 * levels)
        vertexOffsets = (0..<levels).map { Array(offsets[(3 * $0)..<(3 * $0 + 3)]) }
        let counts = try reader.uint32s(levels).map(Int.init)
        fragmentPositions = []
        fragmentSizes = []
        for count in counts {
            // Positions are stored axis by axis: every x, then every y, then every z.
            let axes = try reader.uint32s(3 * count)
            fragmentPositions.append((0..<count).map { [axes[$0], axes[count + $0], axes[2 * count + $0]] })
            fragmentSizes.append(try reader.uint32s(count).map(Int.init))
        }
        guard reader.remaining == 0 else { throw MeshDecodeError("manifest: \(reader.remaining) bytes left over") }
        guard chunkShape.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw MeshDecodeError("manifest: chunk shape \(chunkShape)") }
    }

    var levelCount: Int { fragmentSizes.count }
    var totalFragmentBytes: Int { fragmentSizes.joined().reduce(0, +) }

    /// Where lod `lod`'s fragments lie in the segment's fragment data.
    func range(ofLevel lod: Int) -> Range<Int> {
        let start = fragmentSizes[..<lod].joined().reduce(0, +)
        return start..<(start + fragmentSizes[lod].reduce(0, +))
    }

    /// Decodes lod `lod`'s fragments (their bytes, concatenated) into one mesh in the
    /// layer's model space, then through `transform` (3×4, row-major) into nanometres.
    func mesh(lod: Int, data: [UInt8], quantizationBits: Int, transform: [Double]) throws(MeshDecodeError) -> SegmentMesh {
        guard data.count == range(ofLevel: lod).count else { throw MeshDecodeError("lod \(lod): \(data.count) bytes of fragments") }
        let maximum = Double((UInt64(1) << UInt64(quantizationBits)) - 1)
        let scale = (0..<3).map { Double(chunkShape[$0]) * Double(1 << lod) }
        var mesh = SegmentMesh()
        var at = 0
        for (fragment, size) in fragmentSizes[lod].enumerated() {
            defer { at += size }
            if size == 0 { continue }  // allowed: a child fragment whose parent is empty
            var piece = try DracoMesh.decode(Array(data[at..<(at + size)]))
            let position = fragmentPositions[lod][fragment]
            for vertex in 0..<piece.vertexCount {
                var model = [Double](repeating: 0, count: 3)
                for axis in 0..<3 {
                    let stored = Double(piece.vertices[3 * vertex + axis])
                    model[axis] = Double(gridOrigin[axis]) + Double(vertexOffsets[lod][axis])
                        + scale[axis] * (Double(position[axis]) + stored / maximum)
                }
                MeshSources.place(model, through: transform, into: &piece.vertices, at: vertex)
            }
            mesh.append(piece)
        }
        return mesh
    }
}
