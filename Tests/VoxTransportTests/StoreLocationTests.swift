import Testing
@testable import VoxTransport

@Suite struct StoreLocationTests {
    func location(_ url: String, _ environment: [String: String] = [:]) throws -> String {
        try StoreLocation.store(for: url, environment: environment).location
    }

    @Test func httpAndFile() throws {
        #expect(try location("http://127.0.0.1:8080/em/") == "http://127.0.0.1:8080/em")
        #expect(try location("file:///data/em") == "file:///data/em")
    }

    @Test func gcsPublicAndEmulator() throws {
        #expect(try location("gs://iarpa_microns/minnie/minnie65/em") == "https://storage.googleapis.com/iarpa_microns/minnie/minnie65/em")
        #expect(try location("gs://bucket/a/b", ["STORAGE_EMULATOR_HOST": "http://127.0.0.1:4443"]) == "http://127.0.0.1:4443/bucket/a/b")
        #expect(try location("gs://bucket/a", ["STORAGE_EMULATOR_HOST": "localhost:9023"]) == "http://localhost:9023/bucket/a")
    }

    @Test func s3VirtualHostedOrEndpointPathStyle() throws {
        #expect(try location("s3://bossdb-open-data/iarpa_microns/minnie") == "https://bossdb-open-data.s3.amazonaws.com/iarpa_microns/minnie")
        #expect(try location("s3://b/p", ["AWS_ENDPOINT_URL": "http://127.0.0.1:5000"]) == "http://127.0.0.1:5000/b/p")
        #expect(try location("s3://b/p", ["AWS_ENDPOINT_URL": "http://x:1", "AWS_ENDPOINT_URL_S3": "http://s3:2"]) == "http://s3:2/b/p")
    }

    @Test func badURLsNameTheURL() {
        for url in ["ftp://host/x", "file://relative/path", "gs://", "s3:///path"] {
            #expect {
                _ = try StoreLocation.store(for: url, environment: [:])
            } throws: { error in
                "\(error)".contains(url)
            }
        }
    }

    @Test func keysAreEscaped() {
        #expect(URLPath.escape("8_8_40/0-64_0-64_0-16") == "8_8_40/0-64_0-64_0-16")
        #expect(URLPath.escape("a b/ü") == "a%20b/%C3%BC")
    }

    @Test func escapesDecodeOnlyWithTwoHexDigits() {
        #expect(URLPath.unescape("a%20b/%C3%bc") == "a b/ü")
        for bad in ["%+1", "%-1", "% 1", "%2", "%", "%G0", "%C3"] { #expect(URLPath.unescape(bad) == nil, "\(bad)") }
    }
}
