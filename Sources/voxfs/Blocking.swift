import Dispatch
import Synchronization

/// Runs async work from synchronous code on a thread outside the cooperative pool.
///
/// The mount command must end up blocked in libfuse's loop on its own thread; running it
/// from an async context would park one of the pool's few threads for the whole mount.
func runBlocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let result = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let outcome: Result<T, any Error>
        do { outcome = .success(try await work()) } catch { outcome = .failure(error) }
        result.withLock { $0 = outcome }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}
