import VoxTransport

/// Turns a file-tree URL into a tree: `webdav+http(s)://`, `http(s)://` (index pages),
/// `s3://`, `gs://` or `file:///`.
public enum TreeLocation {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public static let schemes = ["webdav+http://", "webdav+https://", "http://", "https://", "s3://", "gs://", "file:///"]

    public static func isTreeURL(_ url: String) -> Bool { schemes.contains { url.hasPrefix($0) } }

    /// The tree whose root is the directory at `url` (a trailing `/` is implied).
    public static func tree(for url: String, environment: [String: String], client: HTTPClient = HTTPClient()) throws(Invalid) -> any FileTree {
        if url.hasPrefix("webdav+") {
            let http = String(url.dropFirst("webdav+".count))
            try checkHost(http)
            return WebDAVTree(baseURL: http, client: client)
        }
        if url.hasPrefix("http://") || url.hasPrefix("https://") {
            try checkHost(url)
            return AutoindexTree(baseURL: url, client: client)
        }
        if url.hasPrefix("file:///") {
            return LocalTree(root: String(url.dropFirst("file://".count)))
        }
        if url.hasPrefix("s3://") {
            let (bucket, prefix) = try bucketAndPrefix(url, scheme: "s3://")
            let endpoint = [environment["AWS_ENDPOINT_URL_S3"], environment["AWS_ENDPOINT_URL"]]
                .compactMap { $0 }.first { !$0.isEmpty }
            return S3Tree(bucket: bucket, prefix: prefix, endpoint: endpoint, client: client)
        }
        if url.hasPrefix("gs://") {
            let (bucket, prefix) = try bucketAndPrefix(url, scheme: "gs://")
            let emulator = environment["STORAGE_EMULATOR_HOST"].flatMap { $0.isEmpty ? nil : $0 }
            return GCSTree(bucket: bucket, prefix: prefix, emulatorHost: emulator, client: client)
        }
        throw Invalid(description: "unsupported file-tree URL '\(url)' (expected one of \(schemes.joined(separator: ", ")))")
    }

    /// Splits a URL that may name one file into its directory's URL and the file's name;
    /// nil when it names a directory (ends in `/`, or is a bare host or bucket).
    public static func fileName(in url: String) -> (directory: String, name: String)? {
        guard !url.hasSuffix("/"), let scheme = url.range(of: "://") else { return nil }
        let afterScheme = url[scheme.upperBound...]
        guard let firstSlash = afterScheme.firstIndex(of: "/"), let lastSlash = afterScheme.lastIndex(of: "/") else { return nil }
        let name = afterScheme[afterScheme.index(after: lastSlash)...]
        guard firstSlash <= lastSlash, !name.isEmpty, let decoded = URLPath.unescape(name) else { return nil }
        return (String(url[..<afterScheme.index(after: lastSlash)]), decoded)
    }

    /// Object stores have no directories: a prefix without `/` may name one.
    public static func mayBePrefix(_ url: String) -> Bool { url.hasPrefix("s3://") || url.hasPrefix("gs://") }

    private static func checkHost(_ url: String) throws(Invalid) {
        guard let scheme = url.range(of: "://"), url[scheme.upperBound...].prefix(while: { $0 != "/" }).count > 0 else {
            throw Invalid(description: "URL '\(url)' has no host")
        }
    }

    private static func bucketAndPrefix(_ url: String, scheme: String) throws(Invalid) -> (String, String) {
        let rest = url.dropFirst(scheme.count)
        let bucket = rest.prefix { $0 != "/" }
        guard !bucket.isEmpty else { throw Invalid(description: "URL '\(url)' has no bucket") }
        var prefix = rest.dropFirst(bucket.count).drop { $0 == "/" }
        while prefix.hasSuffix("//") { prefix = prefix.dropLast() }
        return (String(bucket), String(prefix))
    }
}
