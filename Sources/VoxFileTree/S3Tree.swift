import VoxTransport

/// Objects under an S3 prefix (`s3://bucket/prefix/`), listed with ListObjectsV2 and read
/// anonymously. A custom endpoint (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`) is addressed
/// path-style, as S3-compatible servers expect.
public struct S3Tree: HTTPFileTree {
    /// The bucket's URL, ending in `/`: `https://bucket.s3.amazonaws.com/` or `endpoint/bucket/`.
    let bucketURL: String
    /// The key prefix of the root, empty or ending in `/`.
    let prefix: String
    let bucket: String
    let client: HTTPClient

    public init(bucket: String, prefix: String, endpoint: String?, client: HTTPClient = HTTPClient()) {
        self.bucket = bucket
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        if let endpoint {
            bucketURL = (endpoint.hasSuffix("/") ? endpoint : endpoint + "/") + URLPath.escape(bucket) + "/"
        } else {
            bucketURL = "https://\(bucket).s3.amazonaws.com/"
        }
        self.client = client
    }

    public var location: String { "s3://\(bucket)/\(prefix)" }

    func fileURL(_ path: String) -> String { bucketURL + URLPath.escape(prefix + path) }

    public func list(_ path: String) async throws -> Listing {
        let directoryPrefix = path.isEmpty ? prefix : prefix + path + "/"
        let first = bucketURL + "?list-type=2&delimiter=%2F&encoding-type=url&prefix=" + URLPath.escapeQueryValue(directoryPrefix)
        return try await pagedListing({ token in
            token.map { first + "&continuation-token=" + URLPath.escapeQueryValue($0) } ?? first
        }, parse: { body, _ in
            let page = try S3Listing.parse(body, prefix: directoryPrefix)
            return (page.listing, page.continuationToken)
        })
    }
}
