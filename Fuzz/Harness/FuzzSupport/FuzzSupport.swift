import Dispatch
import Glibc

/// Reads parameters off the front of a fuzz input; past the end every read is zero, so any
/// input is a valid parameter block and the fuzzer can grow it freely.
public struct FuzzInput {
    public let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    }

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public mutating func byte() -> UInt8 {
        defer { offset += 1 }
        return offset < bytes.count ? bytes[offset] : 0
    }

    public mutating func uint16() -> UInt16 { UInt16(byte()) | UInt16(byte()) << 8 }
    public mutating func uint32() -> UInt32 { UInt32(uint16()) | UInt32(uint16()) << 16 }
    public mutating func uint64() -> UInt64 { UInt64(uint32()) | UInt64(uint32()) << 32 }

    /// What is left after the parameters.
    public var rest: [UInt8] { offset < bytes.count ? Array(bytes[offset...]) : [] }

    /// The input split at its first NUL: (before, after); (nil, whole input) without a NUL.
    public static func splitAtNUL(_ bytes: [UInt8]) -> (head: [UInt8]?, tail: [UInt8]) {
        guard let nul = bytes.firstIndex(of: 0) else { return (nil, bytes) }
        return (Array(bytes[..<nul]), Array(bytes[(nul + 1)...]))
    }
}

/// Runs `body` on the cooperative pool and waits for it (the harness entry point is synchronous).
public func runBlocking(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        await body()
        done.signal()
    }
    done.wait()
}

/// Keeps a value alive and observable so the optimizer cannot drop the work that made it.
@inline(never)
public func consume<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// FUZZ_VERBOSE=1: harnesses say what each input decoded to (to check seeds by hand:
/// `FUZZ_VERBOSE=1 .build-fuzz/release/<target> Fuzz/Corpus/<target>/*`).
public let verbose = getenv("FUZZ_VERBOSE") != nil

public func note(_ message: @autoclosure () -> String) {
    if verbose { print(message()) }
}
