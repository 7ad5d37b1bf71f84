import Foundation
import Synchronization

/// Timestamped lines on stderr (redirected to the log file when daemonised).
public enum Log {
    public enum Level: Int, Sendable, CaseIterable {
        case error, info, debug

        public init?(name: String) {
            guard let level = Self.allCases.first(where: { "\($0)" == name }) else { return nil }
            self = level
        }
    }

    private static let threshold = Atomic<Int>(Level.info.rawValue)

    /// Lines above `level` are not written.
    public static func setLevel(_ level: Level) { threshold.store(level.rawValue, ordering: .relaxed) }

    public static func error(_ message: String) { write(.error, message) }
    public static func info(_ message: String) { write(.info, message) }
    /// Built only when debug lines are wanted.
    public static func debug(_ message: @autoclosure () -> String) { write(.debug, message()) }

    private static func write(_ level: Level, _ message: @autoclosure () -> String) {
        guard level.rawValue <= threshold.load(ordering: .relaxed) else { return }
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        FileHandle.standardError.write(Data("\(stamp) \(level) \(message())\n".utf8))
    }
}
