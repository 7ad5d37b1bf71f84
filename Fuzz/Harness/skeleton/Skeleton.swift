// Skeletons (`neuroglancer_skeletons`): SkeletonSource.decode with the vertex attributes an
// info can declare.
//
// Input: byte 0 the attribute count (mod 4); per attribute 3 bytes: id (mod 4: radius,
// compartment, vertex_types, other), data type (mod 7, the types of at most 32 bits, as the
// info parser allows), components (mod 16, + 1); then the skeleton file.
import FuzzSupport
import VoxTransport
@testable import VoxSources

let ids = ["radius", "compartment", "vertex_types", "other"]
let types: [DataType] = [.uint8, .int8, .uint16, .int16, .uint32, .int32, .float32]
let store = MemoryStore(location: "fuzz://")
let transform: [Double] = [2, 0, 0, 10, 0, 2, 0, 0, 0, 0, 2, 0]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let count = Int(input.byte() % 4)
    let attributes = (0..<count).map { _ in
        SkeletonSource.Attribute(
            id: ids[Int(input.byte()) % ids.count], dataType: types[Int(input.byte()) % types.count], components: Int(input.byte() % 16) + 1)
    }
    let source = SkeletonSource(store: store, directory: "sk", transform: transform, attributes: attributes, shards: nil)
    let result = Result { () throws(MeshDecodeError) in try source.decode(input.rest) }
    note("\(attributes.map { "\($0.id):\($0.dataType)x\($0.components)" }): \(result)")
    if case let .success(skeleton) = result {
        precondition(skeleton.edges.allSatisfy { Int($0) < skeleton.vertexCount }, "edge past the vertices")
    }
    return 0
}
