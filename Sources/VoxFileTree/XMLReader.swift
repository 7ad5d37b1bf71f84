/// An element of a parsed XML document: local name (namespace prefix dropped), children and
/// the text directly inside it.
struct XMLNode: Sendable {
    var name: String
    var children: [XMLNode] = []
    var text = ""

    func first(_ name: String) -> XMLNode? { children.first { $0.name == name } }
    func all(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }
    /// The text of the first child called `name`.
    func value(_ name: String) -> String? { first(name)?.text }
}

/// A small, bounded XML reader for listings (WebDAV multistatus, S3 ListBucketResult).
///
/// It reads elements, text, the five named entities, character references and CDATA, and
/// skips comments, processing instructions and attributes. It refuses DTDs (no entity
/// expansion), nesting deeper than `maxDepth` and anything malformed, so a hostile listing
/// costs at most its own size.
enum XMLReader {
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    static let maxDepth = 64

    static func parse(_ bytes: [UInt8]) throws(Malformed) -> XMLNode {
        var scanner = Scanner(bytes: bytes)
        return try scanner.document()
    }

    private struct Scanner {
        let bytes: [UInt8]
        var at = 0
        var stack: [XMLNode] = []
        var root: XMLNode?

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() throws(Malformed) -> XMLNode {
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { at = 3 }
            while at < bytes.count {
                if bytes[at] == UInt8(ascii: "<") {
                    try markup()
                } else {
                    let text = try characters()
                    if stack.isEmpty {
                        guard text.allSatisfy(\.isWhitespace) else { throw fail("text outside the root element") }
                    } else {
                        stack[stack.count - 1].text += text
                    }
                }
            }
            guard stack.isEmpty else { throw fail("unclosed element <\(stack.last!.name)>") }
            guard let root else { throw fail("no root element") }
            return root
        }

        private func fail(_ message: String) -> Malformed {
            Malformed(description: "malformed XML at byte \(at): \(message)")
        }

        private func starts(with literal: String) -> Bool {
            let utf8 = Array(literal.utf8)
            return at + utf8.count <= bytes.count && bytes[at..<at + utf8.count].elementsEqual(utf8)
        }

        /// Moves past the next `terminator`, failing at the end of input.
        private mutating func skip(past terminator: String) throws(Malformed) -> Range<Int> {
            let utf8 = Array(terminator.utf8)
            let start = at
            while at + utf8.count <= bytes.count {
                if bytes[at..<at + utf8.count].elementsEqual(utf8) {
                    defer { at += utf8.count }
                    return start..<at
                }
                at += 1
            }
            throw fail("missing '\(terminator)'")
        }

        private mutating func markup() throws(Malformed) {
            if starts(with: "<?") { at += 2; _ = try skip(past: "?>"); return }
            if starts(with: "<!--") { at += 4; _ = try skip(past: "-->"); return }
            if starts(with: "<![CDATA[") {
                at += 9
                let span = try skip(past: "]]>")
                guard !stack.isEmpty else { throw fail("CDATA outside the root element") }
                stack[stack.count - 1].text += String(decoding: bytes[span], as: UTF8.self)
                return
            }
            if starts(with: "<!") { throw fail("DTDs are not accepted") }
            if starts(with: "</") {
                at += 2
                let name = try self.name()
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ">") else { throw fail("bad closing tag") }
                at += 1
                guard let open = stack.popLast(), open.name == name else { throw fail("unexpected </\(name)>") }
                close(open)
                return
            }
            at += 1
            let element = XMLNode(name: try name())
            let selfClosing = try attributes()
            guard stack.count < XMLReader.maxDepth else { throw fail("nested deeper than \(XMLReader.maxDepth)") }
            guard root == nil else { throw fail("content after the root element") }
            if selfClosing { close(element) } else { stack.append(element) }
        }

        private mutating func close(_ element: XMLNode) {
            if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
        }

        /// A tag name without its namespace prefix.
        private mutating func name() throws(Malformed) -> String {
            let start = at
            while at < bytes.count, !Self.isNameEnd(bytes[at]) { at += 1 }
            guard at > start else { throw fail("missing tag name") }
            let full = bytes[start..<at]
            let local = full.lastIndex(of: UInt8(ascii: ":")).map { full[($0 + 1)...] } ?? full
            return String(decoding: local, as: UTF8.self)
        }

        private static func isNameEnd(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/")
                || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                || byte == UInt8(ascii: "<") || byte == UInt8(ascii: "=")
        }

        private mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 || bytes[at] == 0x0A || bytes[at] == 0x0D { at += 1 }
        }

        /// Skips attributes up to the end of the tag; true for `/>`.
        private mutating func attributes() throws(Malformed) -> Bool {
            while at < bytes.count {
                switch bytes[at] {
                case UInt8(ascii: ">"):
                    at += 1
                    return false
                case UInt8(ascii: "/") where at + 1 < bytes.count && bytes[at + 1] == UInt8(ascii: ">"):
                    at += 2
                    return true
                case UInt8(ascii: "\""), UInt8(ascii: "'"):
                    let quote = bytes[at]
                    at += 1
                    while at < bytes.count, bytes[at] != quote { at += 1 }
                    guard at < bytes.count else { throw fail("unterminated attribute value") }
                    at += 1
                case UInt8(ascii: "<"):
                    throw fail("'<' inside a tag")
                default:
                    at += 1
                }
            }
            throw fail("unterminated tag")
        }

        /// Text up to the next `<`, with entities decoded.
        private mutating func characters() throws(Malformed) -> String {
            var out: [UInt8] = []
            while at < bytes.count, bytes[at] != UInt8(ascii: "<") {
                if bytes[at] == UInt8(ascii: "&") {
                    at += 1
                    let span = try skip(past: ";")
                    guard span.count <= 10 else { throw fail("entity too long") }
                    out += try entity(String(decoding: bytes[span], as: UTF8.self))
                } else {
                    out.append(bytes[at])
                    at += 1
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        private func entity(_ name: String) throws(Malformed) -> [UInt8] {
            switch name {
            case "lt": return [UInt8(ascii: "<")]
            case "gt": return [UInt8(ascii: ">")]
            case "amp": return [UInt8(ascii: "&")]
            case "quot": return [UInt8(ascii: "\"")]
            case "apos": return [UInt8(ascii: "'")]
            default: break
            }
            let code: UInt32?
            if name.hasPrefix("#x") { code = UInt32(name.dropFirst(2), radix: 16) }
            else if name.hasPrefix("#") { code = UInt32(name.dropFirst(), radix: 10) }
            else { code = nil }
            guard let code, let scalar = Unicode.Scalar(code) else { throw fail("unknown entity '&\(name);'") }
            return Array(String(Character(scalar)).utf8)
        }
    }
}
