// Legacy mesh fragments (`<segid>:0:<name>`): LegacyMeshSource.decodeFragment.
import FuzzSupport
@testable import VoxSources

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let result = Result { () throws(MeshDecodeError) in try LegacyMeshSource.decodeFragment(FuzzInput(data, size).bytes) }
    note("\(result.map { "\($0.vertexCount) vertices, \($0.triangleCount) triangles" })")
    if case let .success(mesh) = result {
        precondition(mesh.triangles.allSatisfy { Int($0) < mesh.vertexCount }, "triangle index past the vertices")
    }
    return 0
}
