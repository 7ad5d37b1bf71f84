import CFuse
import Glibc

/// A request handle that may be answered from any thread, exactly once.
struct FuseRequest: @unchecked Sendable {
    let raw: fuse_req_t

    func fail(_ code: Int32) { fuse_reply_err(raw, code) }

    func reply(bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress, !buffer.isEmpty else {
                _ = fuse_reply_buf(raw, nil, 0)
                return
            }
            base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                _ = fuse_reply_buf(raw, $0, buffer.count)
            }
        }
    }
}
