import Foundation
import Glibc

/// Progress of a prefetch: a bar redrawn in place on a terminal, plain lines otherwise.
final class PrefetchProgress {
    let total: Int
    /// Chunks the work covers, when known (regions of volumes).
    let chunks: Int?
    private let started = Date()
    private var lastDraw = Date.distantPast
    private let onTerminal = isatty(STDOUT_FILENO) == 1
    private(set) var done = 0

    init(total: Int, chunks: Int? = nil) {
        self.total = total
        self.chunks = chunks
    }

    func advance(by bytes: Int) {
        done += bytes
        let now = Date()
        // A terminal gets ten redraws a second; a log gets a line every two seconds.
        guard now.timeIntervalSince(lastDraw) >= (onTerminal ? 0.1 : 2) else { return }
        lastDraw = now
        draw(final: false)
    }

    func finish(interrupted: Bool) {
        if onTerminal { draw(final: true) }
        let elapsed = Date().timeIntervalSince(started)
        let what = chunks.map { "\($0) chunk\($0 == 1 ? "" : "s"), " } ?? ""
        if interrupted {
            Self.emit("stopped after \(ByteCount.human(done)) of \(ByteCount.human(total)); run the same command again to go on (cached parts are read from the cache)")
        } else {
            Self.emit("prefetched \(ByteCount.human(done)) (\(what)\(String(format: "%.1f", elapsed)) s)")
        }
    }

    /// One line, unbuffered: a pipe reader sees progress as it happens.
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    private func draw(final: Bool) {
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let elapsed = max(Date().timeIntervalSince(started), 0.001)
        let rate = Double(done) / elapsed
        let eta = rate > 0 ? Int((Double(total - done) / rate).rounded()) : 0
        let percent = Int((fraction * 100).rounded(.down))
        let chunkText = chunks.map { " ~\(Int(Double($0) * fraction))/\($0) chunks," } ?? ""
        let text = "\(percent)% \(ByteCount.human(done)) of \(ByteCount.human(total)),\(chunkText) \(ByteCount.human(Int(rate)))/s, ETA \(eta) s"
        if onTerminal {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardOutput.write(Data("\r[\(bar)] \(text)\u{1B}[K".utf8))
            if final { FileHandle.standardOutput.write(Data("\n".utf8)) }
        } else {
            Self.emit("prefetch: \(text)")
        }
    }
}
