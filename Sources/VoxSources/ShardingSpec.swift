import Foundation

/// `neuroglancer_uint64_sharded_v1` parameters of a scale.
public struct ShardingSpec: Sendable, Equatable {
    public enum Hash: String, Sendable { case identity, murmurhash3_x86_128 }
    public enum Encoding: String, Sendable { case raw, gzip }

    public var preshiftBits: Int
    public var hash: Hash
    public var minishardBits: Int
    public var shardBits: Int
    public var minishardIndexEncoding: Encoding
    public var dataEncoding: Encoding

    public init(json: [UInt8], url: String) throws(SourceError) {
        func fail(_ message: String) -> SourceError { .invalidInfo("sharding: \(message)", url: url) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] else { throw fail("not an object") }
        guard (object["@type"] as? String) == "neuroglancer_uint64_sharded_v1" else {
            throw fail("@type must be neuroglancer_uint64_sharded_v1")
        }
        func bits(_ name: String) throws(SourceError) -> Int {
            guard let value = object[name] as? Int, (0...64).contains(value) else { throw fail("'\(name)' must be an integer 0...64") }
            return value
        }
        func encoding(_ name: String) throws(SourceError) -> Encoding {
            guard let text = object[name] else { return .raw }
            guard let name = text as? String, let value = Encoding(rawValue: name) else { throw fail("'\(name)' must be raw or gzip") }
            return value
        }
        guard let hashName = object["hash"] as? String, let hash = Hash(rawValue: hashName) else {
            throw fail("'hash' must be identity or murmurhash3_x86_128")
        }
        self.preshiftBits = try bits("preshift_bits")
        self.hash = hash
        self.minishardBits = try bits("minishard_bits")
        self.shardBits = try bits("shard_bits")
        guard minishardBits + shardBits <= 64 else { throw fail("minishard_bits + shard_bits exceeds 64") }
        // The shard index holds 16 bytes per minishard: 2^40 minishards is already 16 TiB.
        guard minishardBits <= 40 else { throw fail("minishard_bits \(minishardBits) is above 40") }
        self.minishardIndexEncoding = try encoding("minishard_index_encoding")
        self.dataEncoding = try encoding("data_encoding")
    }

    /// Which shard file and which minishard in it hold `chunkID`.
    public func location(of chunkID: UInt64) -> (shard: UInt64, minishard: UInt64) {
        let shifted = preshiftBits >= 64 ? 0 : chunkID >> UInt64(preshiftBits)
        let hashed = hash == .identity ? shifted : MurmurHash3.x86_128Low64(shifted)
        let minishard = hashed & Self.mask(minishardBits)
        let shard = (minishardBits >= 64 ? 0 : hashed >> UInt64(minishardBits)) & Self.mask(shardBits)
        return (shard, minishard)
    }

    /// `<shard in hex, zero-padded to ceil(shard_bits / 4) digits>.shard`.
    public func shardFileName(_ shard: UInt64) -> String {
        let digits = String(shard, radix: 16)
        let width = (shardBits + 3) / 4
        return String(repeating: "0", count: max(0, width - digits.count)) + digits + ".shard"
    }

    /// Bytes of the shard index at the start of every shard file.
    public var shardIndexLength: Int { 16 << minishardBits }

    static func mask(_ bits: Int) -> UInt64 { bits >= 64 ? .max : (UInt64(1) << UInt64(bits)) &- 1 }
}

extension ScaleGeometry {
    /// The compressed Morton code of grid cell `cell`: bits of x, y, z interleaved, each
    /// axis contributing only while its grid still needs the bit.
    public func mortonCode(_ cell: Vec3) -> UInt64 {
        let grid = gridSize
        var code: UInt64 = 0, outputBit: UInt64 = 0
        for bit in 0..<64 {
            var any = false
            for (position, extent) in [(cell.x, grid.x), (cell.y, grid.y), (cell.z, grid.z)] where (1 << bit) < extent {
                code |= UInt64((position >> bit) & 1) << outputBit
                outputBit += 1
                any = true
            }
            if !any { break }
        }
        return code
    }
}
