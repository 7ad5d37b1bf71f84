/// Turns a storage URL (`http(s)://`, `file://`, `gs://`, `s3://`) into a store.
public enum StoreLocation {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Resolves `url` with the given environment (for `STORAGE_EMULATOR_HOST`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`).
    public static func store(for url: String, environment: [String: String]) throws(Invalid) -> any ObjectStore {
        if url.hasPrefix("http://") || url.hasPrefix("https://") {
            guard url.split(separator: "/", omittingEmptySubsequences: true).count >= 2 else {
                throw Invalid(description: "URL '\(url)' has no host")
            }
            return HTTPStore(baseURL: url)
        }
        if url.hasPrefix("file://") {
            let path = String(url.dropFirst("file://".count))
            guard path.hasPrefix("/") else { throw Invalid(description: "file URL '\(url)' must be absolute (file:///path)") }
            return FileStore(root: path)
        }
        if url.hasPrefix("gs://") {
            let (bucket, path) = try bucketAndPath(url, scheme: "gs://")
            if let emulator = environment["STORAGE_EMULATOR_HOST"], !emulator.isEmpty {
                let host = emulator.hasPrefix("http") ? emulator : "http://" + emulator
                return HTTPStore(baseURL: joined(host, bucket, path))
            }
            return HTTPStore(baseURL: joined("https://storage.googleapis.com", bucket, path))
        }
        if url.hasPrefix("s3://") {
            let (bucket, path) = try bucketAndPath(url, scheme: "s3://")
            if let endpoint = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"], !endpoint.isEmpty {
                return HTTPStore(baseURL: joined(endpoint, bucket, path))  // path-style for custom endpoints
            }
            return HTTPStore(baseURL: joined("https://\(bucket).s3.amazonaws.com", path))
        }
        throw Invalid(description: "unsupported storage URL '\(url)' (expected http://, https://, file:///, gs:// or s3://)")
    }

    private static func bucketAndPath(_ url: String, scheme: String) throws(Invalid) -> (String, String) {
        let rest = url.dropFirst(scheme.count)
        let bucket = rest.prefix(while: { $0 != "/" })
        guard !bucket.isEmpty else { throw Invalid(description: "URL '\(url)' has no bucket") }
        return (String(bucket), String(rest.dropFirst(bucket.count)).trimmingCharacters(in: "/"))
    }

    private static func joined(_ parts: String...) -> String {
        parts.map { $0.trimmingCharacters(in: "/") }.filter { !$0.isEmpty }.joined(separator: "/")
    }
}

private extension String {
    func trimmingCharacters(in character: Character) -> String {
        var s = Substring(self)
        while s.first == character { s = s.dropFirst() }
        while s.last == character { s = s.dropLast() }
        return String(s)
    }
}
