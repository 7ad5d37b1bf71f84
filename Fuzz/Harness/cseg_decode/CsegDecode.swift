// compressed_segmentation: ChunkDecoders.decoder(for: "compressed_segmentation", ...).decode.
//
// Input: a 4-byte little-endian header, then the encoded stream (so the stream stays
// word-aligned). Header bits: 0 data type (0 uint64, 1 uint32); 1 channel count - 1;
// then six 5-bit fields, each value - 1 (1...32): shape x, y, z, block x, y, z.
import FuzzSupport
import VoxSources

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let header = input.uint32()
    func field(_ index: UInt32) -> Int { Int((header >> (2 + 5 * index)) & 31) + 1 }
    let dataType: DataType = header & 1 == 0 ? .uint64 : .uint32
    let channels = Int((header >> 1) & 1) + 1
    let shape = Vec3(field(0), field(1), field(2)), block = Vec3(field(3), field(4), field(5))
    guard let decoder = ChunkDecoders.decoder(
        for: "compressed_segmentation", dataType: dataType, channelCount: channels, blockSize: block)
    else { fatalError("no compressed_segmentation decoder for \(dataType)") }
    let layout = ChunkLayout(shape: shape, channelCount: channels, dataType: dataType)
    let result = Result { try decoder.decode(input.rest, layout: layout) }
    note("cseg \(dataType) x\(channels) shape \(shape) block \(block): \(result.map { "\($0.count) bytes" })")
    if case let .success(decoded) = result {
        precondition(decoded.count == layout.decodedByteCount, "decoded \(decoded.count) bytes, expected \(layout.decodedByteCount)")
    }
    return 0
}
