import VoxTransport

/// Objects under a GCS prefix (`gs://bucket/prefix/`), listed and read through the JSON API
/// anonymously. `STORAGE_EMULATOR_HOST` points it at an emulator.
public struct GCSTree: HTTPFileTree {
    /// `https://storage.googleapis.com` or the emulator, without a trailing slash.
    let apiBase: String
    let bucket: String
    let prefix: String
    let client: HTTPClient

    public init(bucket: String, prefix: String, emulatorHost: String?, client: HTTPClient = HTTPClient()) {
        var base = emulatorHost.map { $0.hasPrefix("http") ? $0 : "http://" + $0 } ?? "https://storage.googleapis.com"
        while base.hasSuffix("/") { base.removeLast() }
        apiBase = base
        self.bucket = bucket
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.client = client
    }

    public var location: String { "gs://\(bucket)/\(prefix)" }

    /// The media download URL: the object name is one path segment, its slashes escaped.
    func fileURL(_ path: String) -> String {
        apiBase + "/download/storage/v1/b/" + URLPath.escapeQueryValue(bucket) + "/o/"
            + URLPath.escapeQueryValue(prefix + path) + "?alt=media"
    }

    /// Pins the listed generation, so a replaced object answers 404 instead of new bytes.
    public func read(_ path: String, range: Range<Int>, version: ObjectVersion) async throws -> [UInt8] {
        var url = fileURL(path)
        if let generation = version.generation { url += "&generation=" + URLPath.escapeQueryValue(generation) }
        return try await client.counted { try await client.fetchRange(url, range: range, version: version) }
    }

    public func list(_ path: String) async throws -> Listing {
        let directoryPrefix = path.isEmpty ? prefix : prefix + path + "/"
        let first = apiBase + "/storage/v1/b/" + URLPath.escapeQueryValue(bucket) + "/o?delimiter=%2F&maxResults=1000"
            + "&fields=items(name,size,generation,updated),prefixes,nextPageToken&prefix=" + URLPath.escapeQueryValue(directoryPrefix)
        return try await pagedListing({ token in
            token.map { first + "&pageToken=" + URLPath.escapeQueryValue($0) } ?? first
        }, parse: { body, _ in
            let page = try GCSListing.parse(body, prefix: directoryPrefix)
            return (page.listing, page.pageToken)
        })
    }
}
