import Foundation

/// Timestamped lines on stderr (redirected to the log file when daemonised).
public enum Log {
    public static func error(_ message: String) { write("error", message) }
    public static func info(_ message: String) { write("info", message) }

    private static func write(_ level: String, _ message: String) {
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        FileHandle.standardError.write(Data("\(stamp) \(level) \(message)\n".utf8))
    }
}
