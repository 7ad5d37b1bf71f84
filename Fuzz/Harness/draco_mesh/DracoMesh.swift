// Draco-compressed fragments of multi-resolution meshes: DracoMesh.decode (libdraco through
// the CDraco shim). libdraco itself comes from the system and is not instrumented: coverage
// guidance sees only the shim and the Swift side, and ASan sees libdraco's heap through
// malloc interception, not its out-of-bounds reads.
import FuzzSupport
@testable import VoxSources

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let result = Result { () throws(MeshDecodeError) in try DracoMesh.decode(FuzzInput(data, size).bytes) }
    note("\(result.map { "\($0.vertexCount) vertices, \($0.triangleCount) triangles" })")
    if case let .success(mesh) = result {
        precondition(mesh.triangles.allSatisfy { Int($0) < mesh.vertexCount }, "triangle index past the vertices")
    }
    return 0
}
