import Testing
@testable import VoxTransport

@Suite struct RedirectPolicyTests {
    static func redirect(_ location: String?) -> HTTPResponse {
        HTTPResponse(status: 302, headers: location.map { ["location": $0] } ?? [:], body: [])
    }

    @Test func sameOriginRedirectsAreFollowed() throws {
        #expect(try HTTPClient.sameOriginTarget(of: Self.redirect("/a/b/"), from: "http://h:8/a/b", hops: 1) == "http://h:8/a/b/")
        #expect(try HTTPClient.sameOriginTarget(of: Self.redirect("http://H:8/c"), from: "http://h:8/a", hops: 1) == "http://H:8/c")
    }

    @Test func otherRedirectsAreRefused() {
        for location in ["http://evil:8/a", "//evil/a", "http://h:9/a", "https://h:8/a", "relative", nil] {
            #expect(throws: StoreError.self) {
                try HTTPClient.sameOriginTarget(of: Self.redirect(location), from: "http://h:8/a", hops: 1)
            }
        }
        #expect(throws: StoreError.self) { try HTTPClient.sameOriginTarget(of: Self.redirect("/a"), from: "http://h:8/a", hops: 6) }
    }
}

@Suite struct ObjectVersionTests {
    @Test func mismatchesAreNamed() {
        let listed = ObjectVersion(size: 10, etag: "\"a\"", lastModified: "Sun, 22 Nov 2026 10:00:00 GMT")
        #expect(listed.mismatch(with: ObjectVersion(size: 10, etag: "W/\"a\"")) == nil)
        #expect(listed.mismatch(with: ObjectVersion(size: 10)) == nil)
        #expect(ObjectVersion(size: 10, etag: "a-1").mismatch(with: ObjectVersion(size: 10, etag: "\"a-1\"")) == nil)
        #expect(listed.mismatch(with: ObjectVersion(size: 11, etag: "\"a\"")) != nil)
        #expect(listed.mismatch(with: ObjectVersion(size: 10, etag: "\"b\"")) != nil)
        let dated = ObjectVersion(size: 10, lastModified: "Sun, 22 Nov 2026 10:00:00 GMT")
        #expect(dated.mismatch(with: ObjectVersion(size: 10, etag: "\"x\"", lastModified: "Sun, 22 Nov 2026 10:00:01 GMT")) != nil)
        #expect(ObjectVersion(size: 1, generation: "5").mismatch(with: ObjectVersion(size: 1, generation: "6")) != nil)
    }

    @Test func ifRangePrefersAStrongETag() {
        #expect(ObjectVersion(size: 1, etag: "\"a\"", lastModified: "d").ifRange == "\"a\"")
        #expect(ObjectVersion(size: 1, etag: "W/\"a\"", lastModified: "d").ifRange == "d")
        #expect(ObjectVersion(size: 1).ifRange == nil)
        #expect(ObjectVersion(size: 1, etag: "unquoted").ifRange == "\"unquoted\"")
    }
}

@Suite struct ExhaustedRetriesTests {
    @Test func theMessageSaysHowManyTries() {
        var response = HTTPResponse(status: 503, headers: [:], body: [])
        #expect(StoreError.status(response, url: "http://h/x") == .httpStatus(503, url: "http://h/x"))
        response.attempts = 4
        let error = StoreError.status(response, url: "http://h/x")
        #expect(error.description == "HTTP 503 from http://h/x after 4 tries")
        #expect(!error.isRetryable)
    }
}

@Suite struct BodyChecksumTests {
    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }

    /// GCS sends the CRC32C big-endian in base64; a whole body that does not match is refused.
    @Test func wholeBodiesAreCheckedAgainstXGoogHash() {
        let body = Array("123456789".utf8)
        let good = "crc32c=4waSgw==, md5=JfnnlDI7RTiF9RgfG2JNCw=="  // 0xE3069283
        func response(_ hash: String, _ body: [UInt8], encoding: String? = nil) -> HTTPResponse {
            var headers = ["x-goog-hash": hash]
            headers["content-encoding"] = encoding
            return HTTPResponse(status: 200, headers: headers, body: body)
        }
        let get = HTTPRequest(url: "http://h/o")
        #expect(BodyChecksum.mismatch(response(good, body), to: get) == nil)
        var flipped = body
        flipped[4] ^= 0x01
        #expect(BodyChecksum.mismatch(response(good, flipped), to: get) != nil)
        // Nothing to check: a range, a HEAD, a body curl decoded, no crc32c.
        #expect(BodyChecksum.mismatch(response(good, flipped), to: HTTPRequest(url: "http://h/o", range: 0..<9)) == nil)
        #expect(BodyChecksum.mismatch(response(good, []), to: HTTPRequest(url: "http://h/o", method: "HEAD")) == nil)
        #expect(BodyChecksum.mismatch(response(good, flipped, encoding: "gzip"), to: get) == nil)
        #expect(BodyChecksum.mismatch(response("md5=JfnnlDI7RTiF9RgfG2JNCw==", flipped), to: get) == nil)
    }
}
