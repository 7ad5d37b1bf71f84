import Synchronization

/// Hands each host's requests to curl a bounded number at a time, and fails them fast while
/// the host does not respond: a connection limit and a circuit breaker for stalls.
///
/// Requests over the limit wait here, not in curl's queue, so that a host found dead fails
/// them at once rather than letting each one wait out a stall of its own once a connection
/// frees up.
///
/// A host counts as down when a transfer to it times out (no bytes for the stall timeout, or
/// past its deadline) and no other transfer to it was answered since that one started. One
/// stalled request among answered ones (a slow object, a dropped connection) says nothing
/// about the server and changes nothing. While a host is down, one request at a time goes
/// through as a probe and the others wait for its outcome: an answer brings the host back for
/// everyone; another timeout fails the waiting requests with `StoreError.unresponsive`, and
/// so every request for as long again as that probe waited, before the next one probes.
/// Without that pause, each reader's next request (a retry, the kernel's re-read of a page)
/// would wait out a probe of its own, one after the other.
final class HostAdmission: Sendable {
    /// Handed out by `admit`, given back to `finish`.
    struct Ticket: Sendable {
        let host: String
        let isProbe: Bool
        let started: ContinuousClock.Instant
    }

    /// How a transfer ended, as far as the host's health goes.
    enum Outcome: Sendable {
        /// The server sent a response (of any status).
        case answered
        /// No bytes for the stall timeout, or the deadline passed.
        case timedOut
        /// Anything else: refused, cancelled, malformed. Says nothing about stalls.
        case other
    }

    private enum Verdict: Sendable { case go(probe: Bool), unresponsive, cancelled }

    /// One request waiting for a slot or for a probe's outcome.
    private final class Waiter: Sendable {
        private let state = Mutex<(continuation: CheckedContinuation<Verdict, Never>?, verdict: Verdict?)>((nil, nil))

        /// False when the waiter already had its verdict (it was cancelled).
        @discardableResult
        func resolve(_ verdict: Verdict) -> Bool {
            let (resolved, continuation) = state.withLock { state -> (Bool, CheckedContinuation<Verdict, Never>?) in
                guard state.verdict == nil else { return (false, nil) }
                state.verdict = verdict
                defer { state.continuation = nil }
                return (true, state.continuation)
            }
            continuation?.resume(returning: verdict)
            return resolved
        }

        func wait() async -> Verdict {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Verdict? in
                    if let verdict = state.verdict { return verdict }
                    state.continuation = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    private struct Host {
        var running = 0
        var lastAnswer: ContinuousClock.Instant?
        var down = false
        var probing = false
        /// Requests fail at once until then: the last probe timed out.
        var pausedUntil: ContinuousClock.Instant?
        var waiting: [Waiter] = []

        /// Whether a new request may start now, and as a probe.
        mutating func take(slots: Int) -> Verdict? {
            guard running < slots, !(down && probing) else { return nil }
            running += 1
            if down { probing = true }
            return .go(probe: down)
        }
    }

    private let slotsPerHost: Int
    private static let longestPause = Duration.seconds(30)
    private let hosts = Mutex<[String: Host]>([:])

    init(slotsPerHost: Int) {
        self.slotsPerHost = slotsPerHost
    }

    /// Lets a request to `url` start, after waiting for a slot, or for a probe when its host
    /// is down. Throws `StoreError.unresponsive` when the probe timed out too.
    func admit(_ url: String) async throws -> Ticket {
        let host = HTTPClient.origin(of: url)
        let waiter = Waiter()
        let now: Verdict? = hosts.withLock { hosts in
            var state = hosts[host, default: Host()]
            defer { hosts[host] = state }
            if state.down, let pausedUntil = state.pausedUntil, ContinuousClock.now < pausedUntil { return .unresponsive }
            if state.waiting.isEmpty, let verdict = state.take(slots: slotsPerHost) { return verdict }
            state.waiting.append(waiter)
            return nil
        }
        let verdict = if let now { now } else {
            await withTaskCancellationHandler {
                await waiter.wait()
            } onCancel: {
                if waiter.resolve(.cancelled) {
                    hosts.withLock { $0[host]?.waiting.removeAll { $0 === waiter } }
                }
            }
        }
        switch verdict {
        case let .go(probe): return Ticket(host: host, isProbe: probe, started: .now)
        case .cancelled: throw CancellationError()
        case .unresponsive:
            throw StoreError.unresponsive("\(host) is not responding: its requests time out, the last one just now", url: url)
        }
    }

    /// Records how an admitted request ended, and lets waiting requests go (or fails them).
    func finish(_ ticket: Ticket, _ outcome: Outcome) {
        var verdicts: [(Waiter, Verdict)] = []
        hosts.withLock { hosts in
            guard var state = hosts[ticket.host] else { return }
            defer { hosts[ticket.host] = state }
            state.running -= 1
            if ticket.isProbe { state.probing = false }
            switch outcome {
            case .answered:
                state.lastAnswer = .now
                state.down = false
            case .timedOut:
                if state.lastAnswer.map({ $0 < ticket.started }) ?? true { state.down = true }
                if ticket.isProbe {
                    // The host stayed silent through a whole probe: those waiting fail now.
                    let now = ContinuousClock.now
                    state.pausedUntil = now + min(now - ticket.started, Self.longestPause)
                    verdicts = state.waiting.map { ($0, .unresponsive) }
                    state.waiting.removeAll()
                }
            case .other:
                break
            }
            while !state.waiting.isEmpty, let verdict = state.take(slots: slotsPerHost) {
                verdicts.append((state.waiting.removeFirst(), verdict))
            }
        }
        for (waiter, verdict) in verdicts where !waiter.resolve(verdict) {
            // Cancelled meanwhile: give back the slot it was handed.
            if case let .go(probe) = verdict { finish(Ticket(host: ticket.host, isProbe: probe, started: .now), .other) }
        }
    }
}
