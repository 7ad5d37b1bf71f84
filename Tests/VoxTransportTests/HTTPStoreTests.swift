import Testing
@testable import VoxTransport

@Suite struct HTTPResponseInterpretation {
    let url = "http://example.test/layer/chunk"

    @Test func wholeObjectOnOK() throws {
        let response = HTTPResponse(status: 200, headers: ["etag": "\"abc\""], body: [1, 2, 3])
        let object = try HTTPStore.interpret(response, url: url, range: nil)
        #expect(object == FetchedObject(bytes: [1, 2, 3], validator: "etag:\"abc\""))
    }

    @Test func notFoundIsNilNotAnError() throws {
        #expect(try HTTPStore.interpret(HTTPResponse(status: 404, headers: [:], body: []), url: url, range: nil) == nil)
    }

    @Test(arguments: [500, 503, 429, 403, 401])
    func otherStatusesThrow(status: Int) {
        #expect(throws: StoreError.httpStatus(status, url: url)) {
            try HTTPStore.interpret(HTTPResponse(status: status, headers: [:], body: [0]), url: url, range: nil)
        }
    }

    @Test func theServersMessageIsKept() {
        let json = HTTPResponse(status: 403, headers: [:], body: Array(#"{"message": "Permission denied for collection"}"#.utf8))
        #expect(StoreError.status(json, url: url) == .rejected(403, message: "Permission denied for collection", url: url))
        let text = HTTPResponse(status: 413, headers: [:], body: Array("Cutout too large\n".utf8))
        #expect(StoreError.status(text, url: url).description == "HTTP 413 from \(url): Cutout too large")
        let html = HTTPResponse(status: 500, headers: [:], body: Array("<html>oops</html>".utf8))
        #expect(StoreError.status(html, url: url) == .httpStatus(500, url: url))
        #expect(StoreError.status(html, url: url).status == 500)
    }

    @Test func retryableStatuses() {
        #expect(StoreError.httpStatus(503, url: url).isRetryable)
        #expect(StoreError.httpStatus(429, url: url).isRetryable)
        #expect(!StoreError.httpStatus(403, url: url).isRetryable)
        #expect(StoreError.transport("timeout", url: url).isRetryable)
    }

    @Test func rangeNeeds206WithMatchingContentRange() throws {
        let good = HTTPResponse(status: 206, headers: ["content-range": "bytes 10-13/100"], body: [1, 2, 3, 4])
        #expect(try HTTPStore.interpret(good, url: url, range: 10..<14)?.bytes == [1, 2, 3, 4])

        let whole = HTTPResponse(status: 200, headers: [:], body: Array(repeating: 0, count: 100))
        #expect(throws: StoreError.self) { try HTTPStore.interpret(whole, url: url, range: 10..<14) }

        let shifted = HTTPResponse(status: 206, headers: ["content-range": "bytes 11-14/100"], body: [1, 2, 3, 4])
        #expect(throws: StoreError.self) { try HTTPStore.interpret(shifted, url: url, range: 10..<14) }

        let short = HTTPResponse(status: 206, headers: ["content-range": "bytes 10-13/100"], body: [1, 2, 3])
        #expect(throws: StoreError.self) { try HTTPStore.interpret(short, url: url, range: 10..<14) }

        let missingHeader = HTTPResponse(status: 206, headers: [:], body: [1, 2, 3, 4])
        #expect(throws: StoreError.self) { try HTTPStore.interpret(missingHeader, url: url, range: 10..<14) }
    }

    @Test func validatorFallsBackToLastModifiedAndSize() throws {
        let response = HTTPResponse(status: 200, headers: ["last-modified": "Mon", "content-length": "3"], body: [1, 2, 3])
        #expect(try HTTPStore.interpret(response, url: url, range: nil)?.validator == "modified:Mon;size:3")
    }

    @Test func retryDelaysAreBoundedAndJittered() {
        let policy = RetryPolicy(maxAttempts: 4, baseDelayMilliseconds: 100, maxDelayMilliseconds: 500)
        for attempt in 1...10 {
            #expect(policy.delay(beforeRetry: attempt) <= .milliseconds(500))
        }
    }
}
