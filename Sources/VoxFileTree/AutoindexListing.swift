import Foundation
import VoxTransport

/// Reads the directory pages web servers generate: nginx's `autoindex` (HTML or
/// `autoindex_format json`) and Apache's `mod_autoindex`.
enum AutoindexListing {
    private struct JSONEntry: Decodable {
        var name: String?
        var type: String?
        var mtime: String?
        var size: Int?
    }

    /// nginx's JSON format: `[{"name": ..., "type": "file"|"directory", "mtime": HTTP-date, "size": n}]`.
    static func parseJSON(_ body: [UInt8]) throws -> Listing {
        let items: [JSONEntry]
        do { items = try JSONDecoder().decode([JSONEntry].self, from: Data(body)) } catch {
            throw ListingError("not a JSON index: \(error)")
        }
        var listing = Listing()
        for item in items {
            guard let name = item.name, let type = item.type else {
                listing.refused.append("entry without name or type")
                continue
            }
            let modified = item.mtime.flatMap(HTTPDate.parseIMF)
            switch type {
            case "directory":
                listing.add(TreeEntry(name: name, kind: .directory, modified: modified))
            case "file":
                let version = item.size.flatMap {
                    $0 >= 0 ? ObjectVersion(size: $0, lastModified: modified == nil ? nil : item.mtime) : nil
                }
                listing.add(TreeEntry(name: name, kind: .file(version), modified: modified))
            default:
                listing.refused.append("'\(name)' of type '\(type)'")  // symlinks and others
            }
        }
        return listing
    }

    /// An HTML index: every relative link to a child, and the exact byte size when the text
    /// after the link ends in a plain integer (nginx's default; Apache's below 1 KiB).
    static func parseHTML(_ body: [UInt8]) throws -> Listing {
        let anchors = body.ranges(ofCaseInsensitive: "<a href=\"")
        guard !anchors.isEmpty || body.firstRange(ofCaseInsensitive: "<html", from: 0) != nil else {
            throw ListingError("not an HTML index page")
        }
        var listing = Listing()
        for (number, anchor) in anchors.enumerated() {
            let hrefStart = anchor.upperBound
            guard let quote = body[hrefStart...].firstIndex(of: UInt8(ascii: "\"")) else { break }
            let href = String(decoding: body[hrefStart..<quote], as: UTF8.self)
            guard let link = childLink(href) else { continue }
            guard let name = URLPath.unescape(unescapeHTML(link.name)) else {
                listing.refused.append("malformed escape in '\(href)'")
                continue
            }
            if link.isDirectory {
                listing.add(TreeEntry(name: name, kind: .directory))
            } else {
                let next = number + 1 < anchors.count ? anchors[number + 1].lowerBound : body.count
                let size = quote <= next ? trailingSize(body[quote..<next]) : nil
                listing.add(TreeEntry(name: name, kind: .file(size.map { ObjectVersion(size: $0) })))
            }
        }
        return listing
    }

    /// A link to a direct child: relative, one segment, no query (sort links), not the parent.
    private static func childLink(_ href: String) -> (name: String, isDirectory: Bool)? {
        guard !href.isEmpty, !href.hasPrefix("/"), !href.hasPrefix("?"), !href.hasPrefix("#"), !href.contains("://"),
              !href.contains("?") else { return nil }
        var name = Substring(href)
        if name.hasPrefix("./") { name = name.dropFirst(2) }
        let isDirectory = name.hasSuffix("/")
        if isDirectory { name = name.dropLast() }
        guard !name.isEmpty, name != "..", name != "." else { return nil }
        return (String(name), isDirectory)
    }

    /// The integer that ends the visible text of a link's line or table row.
    private static func trailingSize(_ text: ArraySlice<UInt8>) -> Int? {
        var end = text.firstIndex(of: UInt8(ascii: "\n")) ?? text.endIndex
        if let row = text.firstRange(ofCaseInsensitive: "</tr>", from: text.startIndex), row.lowerBound < end { end = row.lowerBound }
        var visible: [UInt8] = []
        var inTag = false
        for byte in text[text.startIndex..<end] {
            switch byte {
            case UInt8(ascii: "<"): inTag = true
            case UInt8(ascii: ">"): inTag = false; visible.append(0x20)
            default: if !inTag { visible.append(byte) }
            }
        }
        guard let last = visible.split(whereSeparator: { $0.isWhitespaceByte }).last,
              last.allSatisfy({ (0x30...0x39).contains($0) }), last.count < 19 else { return nil }
        return Int(String(decoding: last, as: UTF8.self))
    }

    private static func unescapeHTML(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}

extension UInt8 {
    var asciiLowercased: UInt8 { (0x41...0x5A).contains(self) ? self | 0x20 : self }
}

extension Collection where Element == UInt8, Index == Int {
    /// Where `needle` (ASCII) starts at or after `from`, ignoring ASCII case.
    func firstRange(ofCaseInsensitive needle: String, from: Int) -> Range<Int>? {
        let pattern = Array(needle.lowercased().utf8)
        guard let first = pattern.first, count >= pattern.count else { return nil }
        var at = Swift.max(from, startIndex)
        let last = endIndex - pattern.count
        while at <= last {
            if self[at].asciiLowercased == first, (1..<pattern.count).allSatisfy({ self[at + $0].asciiLowercased == pattern[$0] }) {
                return at..<(at + pattern.count)
            }
            at += 1
        }
        return nil
    }

    /// Every non-overlapping occurrence of `needle`, ignoring ASCII case.
    func ranges(ofCaseInsensitive needle: String) -> [Range<Int>] {
        var found: [Range<Int>] = []
        var at = startIndex
        while let range = firstRange(ofCaseInsensitive: needle, from: at) {
            found.append(range)
            at = range.upperBound
        }
        return found
    }
}
