/// MurmurHash3 x86_128 (Austin Appleby's reference), as sharded precomputed uses it.
enum MurmurHash3 {
    /// The low 64 bits of the 128-bit hash of `value`'s 8 little-endian bytes.
    static func x86_128Low64(_ value: UInt64, seed: UInt32 = 0) -> UInt64 {
        let c1: UInt32 = 0x239b_961b, c2: UInt32 = 0xab0e_9789, c3: UInt32 = 0x38b3_4ae5
        var h1 = seed, h2 = seed, h3 = seed, h4 = seed
        // 8 bytes: no full 16-byte block, only the tail (k1 = low word, k2 = high word).
        var k2 = UInt32(truncatingIfNeeded: value >> 32)
        k2 &*= c2; k2 = rotl(k2, 16); k2 &*= c3; h2 ^= k2
        var k1 = UInt32(truncatingIfNeeded: value)
        k1 &*= c1; k1 = rotl(k1, 15); k1 &*= c2; h1 ^= k1
        let length: UInt32 = 8
        h1 ^= length; h2 ^= length; h3 ^= length; h4 ^= length
        h1 &+= h2; h1 &+= h3; h1 &+= h4
        h2 &+= h1; h3 &+= h1; h4 &+= h1
        h1 = fmix(h1); h2 = fmix(h2); h3 = fmix(h3); h4 = fmix(h4)
        h1 &+= h2; h1 &+= h3; h1 &+= h4
        h2 &+= h1
        return UInt64(h1) | UInt64(h2) << 32
    }

    private static func rotl(_ x: UInt32, _ r: UInt32) -> UInt32 { (x << r) | (x >> (32 - r)) }

    private static func fmix(_ value: UInt32) -> UInt32 {
        var h = value
        h ^= h >> 16; h &*= 0x85eb_ca6b
        h ^= h >> 13; h &*= 0xc2b2_ae35
        h ^= h >> 16
        return h
    }
}
