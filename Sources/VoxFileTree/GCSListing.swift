import Foundation
import VoxTransport

/// Reads one page of a GCS JSON API `objects.list` answer (with `delimiter=/`).
enum GCSListing {
    struct Page {
        var listing: Listing
        var pageToken: String?
    }

    private struct Response: Decodable {
        struct Item: Decodable {
            var name: String?
            // The JSON API gives int64 fields as strings.
            var size: String?
            var generation: String?
            var updated: String?
        }

        var items: [Item]?
        var prefixes: [String]?
        var nextPageToken: String?
    }

    static func parse(_ body: [UInt8], prefix: String) throws -> Page {
        let root: Response
        do { root = try JSONDecoder().decode(Response.self, from: Data(body)) } catch {
            throw ListingError("not an objects.list answer: \(error)")
        }
        var listing = Listing()
        for full in root.prefixes ?? [] {
            guard full.hasPrefix(prefix) else {
                listing.refused.append("prefix outside '\(prefix)'")
                continue
            }
            var name = Substring(full.dropFirst(prefix.count))
            if name.hasSuffix("/") { name = name.dropLast() }
            listing.add(TreeEntry(name: String(name), kind: .directory))
        }
        for item in root.items ?? [] {
            guard let key = item.name, key.hasPrefix(prefix) else {
                listing.refused.append("object outside '\(prefix)'")
                continue
            }
            if key == prefix { continue }
            guard let size = item.size.flatMap({ Int($0) }), size >= 0 else {
                listing.refused.append("object '\(key)' without a size")
                continue
            }
            let version = ObjectVersion(size: size, generation: item.generation?.nonEmpty)
            let modified = item.updated.flatMap(HTTPDate.parseISO)
            listing.add(TreeEntry(name: String(key.dropFirst(prefix.count)), kind: .file(version), modified: modified))
        }
        return Page(listing: listing, pageToken: root.nextPageToken?.nonEmpty)
    }
}
