/// Percent-encoding of object keys inside URL paths.
public enum URLPath {
    private static let unreserved: Set<UInt8> = Set(
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/:,".utf8))

    /// Escapes everything but unreserved characters, `/`, `:` and `,` (which chunk names use).
    public static func escape(_ key: String) -> String {
        var out = ""
        out.reserveCapacity(key.utf8.count)
        for byte in key.utf8 {
            if unreserved.contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// Joins a relative key onto a base key, resolving `.` and `..` (scale keys may use them).
    public static func join(_ base: String, _ relative: String) -> String {
        var parts = base.split(separator: "/").map(String.init)
        for part in relative.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(String(part))
            }
        }
        return parts.joined(separator: "/")
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
