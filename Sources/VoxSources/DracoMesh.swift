import CDraco

/// Draco-compressed triangle meshes (the fragments of multi-resolution meshes), decoded by libdraco.
enum DracoMesh {
    static func decode(_ bytes: [UInt8]) throws(MeshDecodeError) -> SegmentMesh {
        var mesh = voxfs_draco_mesh()
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { voxfs_draco_decode($0.baseAddress, $0.count, &mesh, &message, message.count) }
        guard status == 0 else {
            throw MeshDecodeError("Draco: " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { voxfs_draco_free(&mesh) }
        let vertices = Array(UnsafeBufferPointer(start: mesh.positions, count: mesh.vertex_count * 3))
        let triangles = Array(UnsafeBufferPointer(start: mesh.faces, count: mesh.face_count * 3))
        return try SegmentMesh(vertices: vertices, triangles: triangles).validated("Draco fragment")
    }
}
