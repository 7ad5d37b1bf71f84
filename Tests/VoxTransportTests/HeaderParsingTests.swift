import Testing
@testable import VoxTransport

@Suite struct HeaderParsingTests {
    @Test func crlfIsTrimmedFromHeaderLines() {
        #expect("ETag: \"abc\"\r\n".trimmingSuffix() == "ETag: \"abc\"")
        #expect("X: y\n".trimmingSuffix() == "X: y")
        #expect("X: y".trimmingSuffix() == "X: y")
    }

    @Test func headersOfTheLastResponseOnly() throws {
        let transfer = try CurlTransfer(HTTPRequest(url: "http://127.0.0.1:9/x"))
        transfer.appendHeader("HTTP/1.1 301 Moved\r\n")
        transfer.appendHeader("Location: /y\r\n")
        transfer.appendHeader("HTTP/1.1 200 OK\r\n")
        transfer.appendHeader("ETag: \"v1\"\r\n")
        transfer.appendHeader("\r\n")
        #expect(transfer.receivedHeaders == ["etag": "\"v1\""])
    }
}
