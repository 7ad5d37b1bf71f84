extension [UInt8] {
    /// `count` bytes for a caller that writes every one of them before anyone reads them (a
    /// decoder, or rows assembled from chunks that tile them): filling them with zeros first
    /// would write each byte twice. Debug builds fill them with 0xA5, so a byte left unwritten
    /// shows in the tests instead of passing as the zeros fresh memory happens to hold.
    static func unfilled(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            #if DEBUG
            buffer.initialize(repeating: 0xA5)
            #endif
            initialized = count
        }
    }
}
