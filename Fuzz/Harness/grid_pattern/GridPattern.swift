// HDF5 grid file names: HDF5GridLayout(pattern:...) validation, then cubeIndex(of:) and the
// cube's first voxel.
//
// Input: `<pattern>\0<file name>`; without a NUL, the pattern is x{x}y{y}z{z}.hdf5.
import FuzzSupport
@testable import VoxSources

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let (head, tail) = FuzzInput.splitAtNUL(FuzzInput(data, size).bytes)
    let pattern = head.map { String(decoding: $0, as: UTF8.self) } ?? "x{x}y{y}z{z}.hdf5"
    let name = String(decoding: tail, as: UTF8.self)
    guard let layout = try? HDF5GridLayout(pattern: pattern, cube: Vec3(1024, 1024, 1024), resolution: [4, 4, 40], origin: Vec3(1, 1, 1))
    else { return 0 }
    note("\(pattern) ~ \(name): \(layout.cubeIndex(of: name).map(\.description) ?? "no match")")
    if let index = layout.cubeIndex(of: name) {
        let start = layout.start(ofCube: index)
        precondition(layout.cube(holding: start) == index, "cube \(index) starts at \(start), which lies in cube \(layout.cube(holding: start))")
    }
    return 0
}
