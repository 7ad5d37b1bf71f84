import CCurl
import Foundation
import Synchronization

/// Runs every HTTP transfer of the process on one libcurl multi handle, owned by one thread.
///
/// Other threads queue transfers and wake the loop with `curl_multi_wakeup`; the loop sleeps in
/// `curl_multi_poll`. One multi handle means one connection cache: keep-alive and HTTP/2
/// multiplexing come for free, and the connection limits bound concurrency.
public final class CurlEngine: Sendable {
    public static let shared = CurlEngine()

    private struct Queues {
        var adds: [CurlTransfer] = []
        var cancels: [CurlTransfer] = []
    }

    private let multi: MultiHandle
    private let queues = Mutex(Queues())
    private let admission: HostAdmission

    /// Wraps the multi handle; only the engine thread drives it, `curl_multi_wakeup` is thread-safe.
    private struct MultiHandle: @unchecked Sendable { let raw: UnsafeMutableRawPointer }

    public init(maxConnectionsPerHost: Int = 32, maxConnections: Int = 128) {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        guard let handle = curl_multi_init() else { fatalError("curl_multi_init failed") }
        voxfs_multi_setopt_long(handle, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        voxfs_multi_setopt_long(handle, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
        admission = HostAdmission(slotsPerHost: maxConnectionsPerHost)
        voxfs_multi_setopt_long(handle, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxConnections)
        multi = MultiHandle(raw: handle)
        let thread = Thread { [self] in runLoop() }
        thread.name = "voxfs-curl"
        thread.start()
    }

    /// Performs one GET. Throws `StoreError.transport` for connection failures, stalls and
    /// deadlines, and at once while the host does not respond (see `HostAdmission`); any HTTP
    /// status is returned, not thrown.
    public func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        let ticket = try await admission.admit(request.url)
        let transfer: CurlTransfer
        do {
            transfer = try CurlTransfer(request)
        } catch {
            admission.finish(ticket, .other)
            throw error
        }
        do {
            let response = try await run(transfer)
            admission.finish(ticket, .answered)
            return response
        } catch {
            admission.finish(ticket, transfer.timedOut ? .timedOut : .other)
            throw error
        }
    }

    private func run(_ transfer: CurlTransfer) async throws -> HTTPResponse {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.continuation = continuation
                queues.withLock { $0.adds.append(transfer) }
                curl_multi_wakeup(multi.raw)
            }
        } onCancel: {
            queues.withLock { $0.cancels.append(transfer) }
            curl_multi_wakeup(multi.raw)
        }
    }

    private func runLoop() {
        let multi = multi.raw
        var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
        while true {
            let (adds, cancels) = queues.withLock { queues in
                defer { queues.adds.removeAll(); queues.cancels.removeAll() }
                return (queues.adds, queues.cancels)
            }
            for transfer in adds {
                active[transfer.easy] = transfer
                curl_multi_add_handle(multi, transfer.easy)
            }
            for transfer in cancels where active.removeValue(forKey: transfer.easy) != nil {
                curl_multi_remove_handle(multi, transfer.easy)
                transfer.finish(Result<HTTPResponse, any Error>.failure(CancellationError()))
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                      let transfer = active.removeValue(forKey: easy) else { continue }
                let code = message.pointee.data.result
                curl_multi_remove_handle(multi, easy)
                transfer.complete(code)
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }
}
