// Multi-resolution mesh manifests (`<segid>.index`): MultiResolutionManifest(_:), then every
// level of detail whose fragment bytes the input holds, through mesh(lod:...) (Draco decoding
// and placement on the grid).
//
// Input: byte 0 bit 0 chooses 16 (else 10) quantization bits; bytes 1-4 the manifest's length
// (little-endian, capped at what is there); the manifest; then the fragment data, lod 0 first.
import FuzzSupport
@testable import VoxSources

let transform: [Double] = [2, 0, 0, 10, 0, 1, 0, 0, 0, 0, 1, 5]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let bits = input.byte() & 1 == 0 ? 10 : 16
    let length = Int(input.uint32())
    let rest = input.rest
    let manifestBytes = Array(rest.prefix(length)), fragments = Array(rest.dropFirst(length))
    let parsed = Result { () throws(MeshDecodeError) in try MultiResolutionManifest(manifestBytes) }
    note("manifest: \(parsed.map { "\($0.levelCount) lods, \($0.totalFragmentBytes) fragment bytes" })")
    guard case let .success(manifest) = parsed else { return 0 }
    consume(manifest.totalFragmentBytes)
    for lod in 0..<manifest.levelCount {
        let range = manifest.range(ofLevel: lod)
        guard range.upperBound <= fragments.count else { break }
        let result = Result { () throws(MeshDecodeError) in
            try manifest.mesh(lod: lod, data: Array(fragments[range]), quantizationBits: bits, transform: transform)
        }
        note("lod \(lod): \(result.map { "\($0.vertexCount) vertices, \($0.triangleCount) triangles" })")
        if case let .success(mesh) = result {
            precondition(mesh.triangles.allSatisfy { Int($0) < mesh.vertexCount }, "triangle index past the vertices")
        }
    }
    return 0
}
