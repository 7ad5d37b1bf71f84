import Synchronization
import VoxTransport

/// Merges ranged reads of one shard file that arrive together (the chunks of one slice)
/// into as few GETs as is sensible: ranges closer than `maximumGap` join, up to `maximumSpan`.
final class ShardReadBatcher: Sendable {
    private struct Request {
        var range: Range<Int>
        var continuation: CheckedContinuation<[UInt8], any Error>
    }

    private let store: any ObjectStore
    private let pending = Mutex<[String: [Request]]>([:])
    /// How long the first read of a batch waits for others to join.
    private let gatherWindow: Duration
    static let maximumGap = 64 << 10
    static let maximumSpan = 16 << 20

    init(store: any ObjectStore, gatherWindow: Duration = .microseconds(300)) {
        self.store = store
        self.gatherWindow = gatherWindow
    }

    func read(_ file: String, _ range: Range<Int>) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            let opensBatch = pending.withLock { pending in
                defer { pending[file, default: []].append(Request(range: range, continuation: continuation)) }
                return pending[file] == nil
            }
            if opensBatch {
                Task {
                    try? await Task.sleep(for: self.gatherWindow)
                    await self.flush(file)
                }
            }
        }
    }

    private func flush(_ file: String) async {
        let requests = pending.withLock { $0.removeValue(forKey: file) ?? [] }.sorted { $0.range.lowerBound < $1.range.lowerBound }
        var groups: [[Request]] = []
        for request in requests {
            if let last = groups.last, let start = last.first?.range.lowerBound,
               let end = last.map(\.range.upperBound).max(),
               request.range.lowerBound - end <= Self.maximumGap, request.range.upperBound - start <= Self.maximumSpan {
                groups[groups.count - 1].append(request)
            } else {
                groups.append([request])
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for members in groups {
                group.addTask { await self.fetch(file, members) }
            }
        }
    }

    private func fetch(_ file: String, _ members: [Request]) async {
        let start = members.map(\.range.lowerBound).min()!, end = members.map(\.range.upperBound).max()!
        do {
            guard let object = try await store.fetch(file, range: start..<end) else {
                throw StoreError.corrupt("shard disappeared under its index", url: store.describe(file))
            }
            for member in members {
                member.continuation.resume(returning: Array(object.bytes[(member.range.lowerBound - start)..<(member.range.upperBound - start)]))
            }
        } catch {
            for member in members { member.continuation.resume(throwing: error) }
        }
    }
}
