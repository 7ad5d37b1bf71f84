import Testing
@testable import VoxTransport

@Suite struct HostAdmissionTests {
    let url = "http://host.invalid:8080/a/b"

    /// A host made down: one request timed out with nothing answered since it started.
    func downHost(slots: Int = 4) async throws -> HostAdmission {
        let admission = HostAdmission(slotsPerHost: slots)
        admission.finish(try await admission.admit(url), .timedOut)
        return admission
    }

    @Test func requestsOverTheLimitWaitForASlotInOrder() async throws {
        let admission = HostAdmission(slotsPerHost: 2)
        let first = try await admission.admit(url)
        _ = try await admission.admit(url)
        let third = Task { try await admission.admit(url) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!(try await admission.admit("http://elsewhere.invalid/x")).isProbe)  // other hosts have their own slots
        admission.finish(first, .answered)
        #expect(!(try await third.value).isProbe)
    }

    @Test func aTimeoutAmongAnsweredRequestsChangesNothing() async throws {
        let admission = HostAdmission(slotsPerHost: 4)
        let slow = try await admission.admit(url)
        admission.finish(try await admission.admit(url), .answered)  // answered while `slow` ran
        admission.finish(slow, .timedOut)
        #expect(!(try await admission.admit(url)).isProbe)
    }

    @Test func aSilentHostIsProbedByOneRequestWhileTheOthersWait() async throws {
        let admission = try await downHost()
        let probeStarted = ContinuousClock.now
        let probe = try await admission.admit(url)
        #expect(probe.isProbe)
        let waiting = Task { try await admission.admit(url + "/other") }
        try await Task.sleep(for: .milliseconds(50))
        admission.finish(probe, .timedOut)
        let probeTook = ContinuousClock.now - probeStarted
        await #expect(throws: StoreError.self) { try await waiting.value }
        // For as long as the probe waited, requests fail at once; then the next one probes.
        await #expect(throws: StoreError.self) { try await admission.admit(url) }
        try await Task.sleep(for: probeTook + .milliseconds(20))
        #expect(try await admission.admit(url).isProbe)
    }

    @Test func anAnsweredProbeLetsTheWaitersGo() async throws {
        let admission = try await downHost()
        let probe = try await admission.admit(url)
        let waiting = [Task { try await admission.admit(url) }, Task { try await admission.admit(url) }]
        try await Task.sleep(for: .milliseconds(50))
        admission.finish(probe, .answered)
        for task in waiting { #expect(!(try await task.value).isProbe) }
    }

    @Test func whenTheProbeEndsOtherwiseAWaiterProbesNext() async throws {
        let admission = try await downHost()
        let probe = try await admission.admit(url)
        let waiting = Task { try await admission.admit(url) }
        try await Task.sleep(for: .milliseconds(50))
        admission.finish(probe, .other)  // e.g. its reader gave up
        #expect(try await waiting.value.isProbe)
    }

    @Test func aCancelledWaiterStopsWaitingAndHoldsNoSlot() async throws {
        let admission = HostAdmission(slotsPerHost: 1)
        let only = try await admission.admit(url)
        let waiting = Task { try await admission.admit(url) }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        admission.finish(only, .answered)
        #expect(!(try await admission.admit(url)).isProbe)  // the slot is free, not taken by the cancelled one
    }

    @Test func theUnresponsiveErrorIsNotRetried() {
        #expect(!StoreError.unresponsive("down", url: url).isRetryable)
    }
}
