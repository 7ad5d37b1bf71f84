import VoxTransport

/// Reads a WebDAV `PROPFIND` (Depth: 1) multistatus answer.
enum WebDAVListing {
    /// The PROPFIND body: only the properties a listing needs.
    static let request = Array("""
        <?xml version="1.0" encoding="utf-8"?>
        <propfind xmlns="DAV:"><prop><resourcetype/><getcontentlength/><getlastmodified/><getetag/></prop></propfind>
        """.utf8)

    /// - Parameter directoryPath: the decoded path part of the URL that was listed, e.g.
    ///   `/webdav/em/`: only entries directly inside it are kept.
    static func parse(_ body: [UInt8], directoryPath: String) throws -> Listing {
        let root = try XMLReader.parse(body)
        guard root.name == "multistatus" else { throw ListingError("expected a DAV multistatus, got <\(root.name)>") }
        let parent = normalized(directoryPath)
        var listing = Listing()
        for response in root.all("response") {
            guard let href = response.value("href"), let path = hrefPath(href) else {
                listing.refused.append("response without a usable href")
                continue
            }
            let entryPath = normalized(path)
            if entryPath == parent { continue }  // the directory itself
            guard let slash = entryPath.lastIndex(of: "/"), entryPath[..<slash] == parent.dropLast(parent == "/" ? 1 : 0) else {
                listing.refused.append("'\(path)' is not inside \(directoryPath)")
                continue
            }
            let name = String(entryPath[entryPath.index(after: slash)...])
            let properties = response.all("propstat")
                .filter { $0.value("status").map { $0.contains(" 200") } ?? true }
                .compactMap { $0.first("prop") }
            func property(_ key: String) -> XMLNode? { properties.lazy.compactMap { $0.first(key) }.first }
            let modifiedText = property("getlastmodified")?.text.trimmed
            let modified = modifiedText.flatMap(HTTPDate.parseIMF)
            if property("resourcetype")?.first("collection") != nil {
                listing.add(TreeEntry(name: name, kind: .directory, modified: modified))
                continue
            }
            let size = property("getcontentlength").flatMap { Int($0.text.trimmed) }.flatMap { $0 >= 0 ? $0 : nil }
            let version = size.map {
                ObjectVersion(size: $0, etag: property("getetag")?.text.trimmed.nonEmpty,
                              lastModified: modified == nil ? nil : modifiedText)
            }
            listing.add(TreeEntry(name: name, kind: .file(version), modified: modified))
        }
        return listing
    }

    /// The decoded path of an href, which may be a path or an absolute URL.
    private static func hrefPath(_ href: String) -> String? {
        var text = Substring(href.trimmed)
        if let scheme = text.range(of: "://") {
            text = text[scheme.upperBound...]
            guard let slash = text.firstIndex(of: "/") else { return "/" }
            text = text[slash...]
        }
        guard text.hasPrefix("/") else { return nil }
        return URLPath.unescape(text)
    }

    /// A path without a trailing slash (but `/` stays `/`).
    private static func normalized(_ path: String) -> String {
        var path = Substring(path)
        while path.count > 1 && path.hasSuffix("/") { path = path.dropLast() }
        return String(path)
    }
}

extension String {
    var trimmed: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }

    var nonEmpty: String? { isEmpty ? nil : self }
}
