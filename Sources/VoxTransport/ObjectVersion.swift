/// What identifies one version of a remote file: its size and whichever validators the
/// listing (or a HEAD) gave. Every ranged read is checked against it.
public struct ObjectVersion: Sendable, Hashable, Codable {
    public var size: Int
    /// As the server sends it, quotes included.
    public var etag: String?
    /// An HTTP-date, e.g. `Sat, 22 Nov 2026 10:00:00 GMT`.
    public var lastModified: String?
    /// A GCS object generation.
    public var generation: String?

    public init(size: Int, etag: String? = nil, lastModified: String? = nil, generation: String? = nil) {
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.generation = generation
    }

    /// Whether anything but the size identifies this version.
    public var hasValidator: Bool { etag != nil || lastModified != nil || generation != nil }

    /// Distinguishes versions in cache keys.
    public var tag: String {
        "\(size)|\(etag ?? "")|\(lastModified ?? "")|\(generation ?? "")"
    }

    /// The condition that makes a server answer a range only from this version: a strong
    /// ETag, else the modification date (weak ETags are not allowed in If-Range).
    var ifRange: String? {
        if let etag, !etag.hasPrefix("W/") { return "\"" + Self.opaque(etag) + "\"" }
        return lastModified
    }

    /// The version a response describes, as far as its headers tell.
    static func of(_ response: HTTPResponse, size: Int) -> ObjectVersion {
        ObjectVersion(
            size: size, etag: response.headers["etag"], lastModified: response.headers["last-modified"],
            generation: response.headers["x-goog-generation"])
    }

    /// Why `served` is not this version, or nil when nothing the server said contradicts it.
    func mismatch(with served: ObjectVersion) -> String? {
        if served.size != size { return "size is now \(served.size), was \(size)" }
        if let etag, let other = served.etag, Self.opaque(etag) != Self.opaque(other) {
            return "ETag is now \(other), was \(etag)"
        }
        if let generation, let other = served.generation, generation != other {
            return "generation is now \(other), was \(generation)"
        }
        if etag == nil, let lastModified, let other = served.lastModified, lastModified != other {
            return "Last-Modified is now \(other), was \(lastModified)"
        }
        return nil
    }

    /// An ETag without its weakness marker (servers weaken ETags of compressed responses)
    /// and quotes (some WebDAV servers list them unquoted).
    private static func opaque(_ etag: String) -> Substring {
        var tag = etag.hasPrefix("W/") ? etag.dropFirst(2) : Substring(etag)
        if tag.count >= 2, tag.hasPrefix("\""), tag.hasSuffix("\"") { tag = tag.dropFirst().dropLast() }
        return tag
    }
}

extension HTTPClient {
    /// Exactly `range` of the object at `url`, and only if it is still `version`.
    ///
    /// The request is conditional (If-Range) and the response's
    /// validators and total size are compared with `version`: a file replaced on the server
    /// gives `StoreError.changed`, never bytes of two versions.
    public func fetchRange(_ url: String, range: Range<Int>, version: ObjectVersion) async throws -> [UInt8] {
        if range.isEmpty { return [] }
        var headers: [String] = []
        if let condition = version.ifRange { headers.append("If-Range: " + condition) }
        return try await send(HTTPRequest(url: url, range: range, headers: headers)) { response in
            try Self.checkRange(response, url: url, range: range, version: version)
        }
    }

    /// A ranged answer's bytes, if they are exactly `range` of `version`.
    private static func checkRange(_ response: HTTPResponse, url: String, range: Range<Int>, version: ObjectVersion) throws -> [UInt8] {
        switch response.status {
        case 206: break
        case 200 where version.ifRange != nil:
            throw StoreError.changed("the server sent the whole object for a conditional range", url: url)
        case 200:
            throw StoreError.badRange("server sent the whole object (200) for a range request", url: url)
        case 404, 410:
            throw StoreError.changed("it is gone (HTTP \(response.status))", url: url)
        case 412, 416:
            throw StoreError.changed("HTTP \(response.status) for a range of the listed version", url: url)
        default:
            throw StoreError.status(response, url: url)
        }
        let total = try ContentRange.validate(response.headers["content-range"], requested: range, url: url)
        guard response.body.count == range.count else {
            throw StoreError.badRange("got \(response.body.count) bytes for a \(range.count)-byte range", url: url)
        }
        if let reason = version.mismatch(with: ObjectVersion.of(response, size: total ?? version.size)) {
            throw StoreError.changed(reason, url: url)
        }
        return response.body
    }

    /// The size and validators of the object at `url` from a HEAD, or nil when it does not exist.
    public func head(_ url: String) async throws -> ObjectVersion? {
        let response = try await send(HTTPRequest(url: url, method: "HEAD"))
        switch response.status {
        case 200: break
        case 404, 410: return nil
        default: throw StoreError.status(response, url: url)
        }
        guard let length = response.headers["content-length"].flatMap({ Int($0.trimmingSpaces()) }), length >= 0 else {
            throw StoreError.badRange("HEAD gave no Content-Length", url: url)
        }
        return ObjectVersion.of(response, size: length)
    }
}
