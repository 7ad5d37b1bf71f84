/// The header of a `.npy` array: enough to find and check its samples.
public struct NPYArray: Sendable {
    public var shape: [Int]
    /// e.g. `<u2`, `|u1`.
    public var descriptor: String
    /// Where the samples start.
    public var dataOffset: Int

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses the header at the start of `bytes` (the samples may follow, or not).
    public init(header bytes: [UInt8]) throws(Failure) {
        guard bytes.count >= 10, bytes.starts(with: [0x93] + Array("NUMPY".utf8)) else { throw Failure(description: "not an NPY array") }
        let lengthBytes = bytes[6] == 1 ? 2 : 4
        guard bytes.count >= 8 + lengthBytes else { throw Failure(description: "truncated NPY header") }
        let length = (0..<lengthBytes).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        dataOffset = 8 + lengthBytes + length
        guard dataOffset <= bytes.count, length <= 65_536 else { throw Failure(description: "truncated NPY header") }
        let header = String(decoding: bytes[(8 + lengthBytes)..<dataOffset], as: UTF8.self)
        guard let descr = header.firstMatch(of: /'descr':\s*'([<>|=]?[a-z]\d+)'/),
              let shapeText = header.firstMatch(of: /'shape':\s*\(([^)]*)\)/) else {
            throw Failure(description: "unreadable NPY header")
        }
        if header.contains("'fortran_order': True") { throw Failure(description: "Fortran-ordered NPY arrays are not supported") }
        descriptor = String(descr.1)
        var dims: [Int] = []
        for part in shapeText.1.split(separator: ",") {
            let text = part.filter { !$0.isWhitespace }
            if text.isEmpty { continue }
            guard let value = Int(text), value >= 0 else { throw Failure(description: "bad NPY shape '\(shapeText.1)'") }
            dims.append(value)
        }
        shape = dims
    }

    /// Bytes per sample.
    public var itemSize: Int { Int(descriptor.drop(while: { !$0.isNumber })) ?? 0 }
    public var isBigEndian: Bool { descriptor.hasPrefix(">") && itemSize > 1 }
}
