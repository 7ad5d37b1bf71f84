import Synchronization

/// Recognises sequential readers of one file and says how far ahead of them to fetch.
///
/// Each reader is a stream: the offset it will read next and a readahead window that
/// doubles with every read that continues it, up to a cap. Several streams are tracked at
/// once (several processes, or h5py hopping between a header and data), so a small read
/// elsewhere starts its own stream and never resets another's window.
final class SequentialReadDetector: Sendable {
    private struct Stream {
        var next: Int
        var window: Int
        /// Everything below this has already been asked for.
        var fetchedTo: Int
        var lastUse: UInt64
    }

    private struct State {
        var streams: [Stream] = []
        var clock: UInt64 = 0
    }

    static let maxStreams = 8
    let blockSize: Int
    let maxWindow: Int
    private let state = Mutex(State())

    init(blockSize: Int, maxWindow: Int) {
        self.blockSize = blockSize
        self.maxWindow = max(maxWindow, 0)
    }

    struct Advice {
        /// Bytes to fetch ahead of the read (empty when there is nothing new to fetch).
        var prefetch: Range<Int>
        /// Whether the read continues a stream: its blocks will not be wanted again soon.
        var isSequential: Bool
    }

    /// Records a read of [offset, offset + count) and says what to fetch ahead of it.
    func advise(offset: Int, count: Int) -> Advice {
        let end = offset + count
        return state.withLock { state in
            state.clock += 1
            let clock = state.clock
            // Reads of one stream arrive slightly out of order from the kernel's parallel readahead.
            guard let index = state.streams.firstIndex(where: {
                offset <= $0.next + blockSize && end >= $0.next - max($0.window, blockSize)
            }) else {
                let stream = Stream(next: end, window: 0, fetchedTo: end, lastUse: clock)
                if state.streams.count < Self.maxStreams {
                    state.streams.append(stream)
                } else if let oldest = state.streams.indices.min(by: { state.streams[$0].lastUse < state.streams[$1].lastUse }) {
                    state.streams[oldest] = stream
                }
                return Advice(prefetch: end..<end, isSequential: false)
            }
            var stream = state.streams[index]
            stream.lastUse = clock
            if end > stream.next {
                stream.next = end
                stream.window = min(max(stream.window * 2, blockSize), maxWindow)
            }
            let from = max(stream.fetchedTo, end)
            let to = max(from, stream.next + stream.window)
            stream.fetchedTo = to
            state.streams[index] = stream
            return Advice(prefetch: from..<to, isSequential: true)
        }
    }
}
