/// A triangle mesh in nanometres: xyz per vertex, three vertex indices per triangle.
public struct SegmentMesh: Sendable, Equatable {
    public var vertices: [Float]
    public var triangles: [UInt32]

    public init(vertices: [Float] = [], triangles: [UInt32] = []) {
        self.vertices = vertices
        self.triangles = triangles
    }

    public var vertexCount: Int { vertices.count / 3 }
    public var triangleCount: Int { triangles.count / 3 }

    /// Adds `other`'s vertices and triangles (its indices shifted past ours).
    public mutating func append(_ other: SegmentMesh) {
        let base = UInt32(vertexCount)
        vertices += other.vertices
        triangles += other.triangles.map { $0 + base }
    }

    /// Checks that every index names a vertex.
    func validated(_ what: String) throws(MeshDecodeError) -> SegmentMesh {
        guard vertices.count % 3 == 0, triangles.count % 3 == 0 else { throw MeshDecodeError("\(what): ragged arrays") }
        let count = UInt32(clamping: vertexCount)
        if let bad = triangles.first(where: { $0 >= count }) {
            throw MeshDecodeError("\(what): triangle index \(bad) but \(count) vertices")
        }
        return self
    }
}

/// Why a mesh or skeleton file could not be decoded; the source adds the URL.
public struct MeshDecodeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Little-endian reads from a byte array, failing instead of trapping past its end.
struct LittleEndianReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8], at offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func uint32() throws(MeshDecodeError) -> UInt32 {
        guard remaining >= 4 else { throw MeshDecodeError("truncated at byte \(offset)") }
        defer { offset += 4 }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    mutating func float32() throws(MeshDecodeError) -> Float {
        Float(bitPattern: try uint32())
    }

    /// `count` little-endian 32-bit values, checked against what is left first.
    mutating func uint32s(_ count: Int) throws(MeshDecodeError) -> [UInt32] {
        guard count >= 0, count <= remaining / 4 else { throw MeshDecodeError("\(count) values past the end at byte \(offset)") }
        var out = [UInt32](repeating: 0, count: count)
        out.withUnsafeMutableBytes { target in
            bytes.withUnsafeBytes { target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + count * 4)])) }
        }
        offset += count * 4
        return out.map { UInt32(littleEndian: $0) }
    }

    mutating func float32s(_ count: Int) throws(MeshDecodeError) -> [Float] {
        try uint32s(count).map { Float(bitPattern: $0) }
    }

    mutating func skip(_ count: Int) throws(MeshDecodeError) {
        guard count >= 0, count <= remaining else { throw MeshDecodeError("\(count) bytes past the end at byte \(offset)") }
        offset += count
    }
}
