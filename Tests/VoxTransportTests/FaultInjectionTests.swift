import Testing
import VoxTransport

@Suite struct FaultInjectionTests {
    @Test func faultsReplaceOnlyChosenKeys() async throws {
        let memory = MemoryStore(["a": [1], "b": [2], "c": [3]])
        let store = FaultInjectingStore(wrapping: memory) { key in
            switch key {
            case "a": .fail(.httpStatus(500, url: "memory://a"))
            case "b": .missing
            default: nil
            }
        }
        await #expect(throws: StoreError.httpStatus(500, url: "memory://a")) { try await store.fetch("a") }
        #expect(try await store.fetch("b") == nil)
        #expect(try await store.fetch("c")?.bytes == [3])
        #expect(store.injectedCount == 2)
        #expect(memory.fetchCount == 1)
    }
}
