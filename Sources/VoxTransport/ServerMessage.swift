import Foundation

/// The explanation an error response carries, for log lines: a JSON body's `message`,
/// `detail` or `error`, else a short plain-text body.
enum ServerMessage {
    static let maxLength = 300

    static func extract(_ body: [UInt8]) -> String? {
        guard !body.isEmpty, body.count <= 64 << 10 else { return nil }
        if let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] {
            for key in ["message", "detail", "error"] {
                if let text = object[key] as? String, !text.isEmpty { return clipped(text) }
            }
            return nil
        }
        let text = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        // HTML error pages say nothing a log line needs.
        guard !text.isEmpty, !text.hasPrefix("<"), !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" && $0 != "\r" })
        else { return nil }
        return clipped(text)
    }

    private static func clipped(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > maxLength ? String(line.prefix(maxLength)) + "…" : line
    }
}
