import Foundation
import VoxTransport

/// Reads one page of an S3 `ListObjectsV2` answer (with `delimiter=/`).
enum S3Listing {
    struct Page {
        var listing: Listing
        var continuationToken: String?
    }

    static func parse(_ body: [UInt8], prefix: String) throws -> Page {
        let root = try XMLReader.parse(body)
        guard root.name == "ListBucketResult" else { throw ListingError("expected a ListBucketResult, got <\(root.name)>") }
        // Asked with encoding-type=url, so keys with control characters stay valid XML.
        let urlEncoded = root.value("EncodingType")?.trimmed == "url"
        func decoded(_ text: String?) -> String? {
            guard let text else { return nil }
            return urlEncoded ? URLPath.unescape(text.replacingOccurrences(of: "+", with: " ")) : text
        }
        var listing = Listing()
        for common in root.all("CommonPrefixes") {
            guard let full = decoded(common.value("Prefix")), full.hasPrefix(prefix) else {
                listing.refused.append("common prefix outside '\(prefix)'")
                continue
            }
            var name = Substring(full.dropFirst(prefix.count))
            if name.hasSuffix("/") { name = name.dropLast() }
            listing.add(TreeEntry(name: String(name), kind: .directory))
        }
        for object in root.all("Contents") {
            guard let key = decoded(object.value("Key")), key.hasPrefix(prefix) else {
                listing.refused.append("key outside '\(prefix)'")
                continue
            }
            if key == prefix { continue }  // a "folder" marker object
            guard let size = object.value("Size").flatMap({ Int($0.trimmed) }), size >= 0 else {
                listing.refused.append("key '\(key)' without a size")
                continue
            }
            let modified = object.value("LastModified").flatMap { HTTPDate.parseISO($0.trimmed) }
            let version = ObjectVersion(size: size, etag: object.value("ETag")?.trimmed.nonEmpty)
            listing.add(TreeEntry(name: String(key.dropFirst(prefix.count)), kind: .file(version), modified: modified))
        }
        let truncated = root.value("IsTruncated")?.trimmed == "true"
        let token = root.value("NextContinuationToken")?.trimmed.nonEmpty
        if truncated && token == nil { throw ListingError("truncated listing without NextContinuationToken") }
        return Page(listing: listing, continuationToken: truncated ? token : nil)
    }
}
