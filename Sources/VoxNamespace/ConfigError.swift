import Yams

/// A problem with a config, phrased for the user: it names the key or value at fault and,
/// when it is known, the line of the config it is on.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    /// 1-based line in the config file.
    public let line: Int?

    public init(_ message: String, line: Int? = nil) {
        self.message = message
        self.line = line
    }

    /// An error about `node`, located at its line.
    init(_ message: String, at node: Node?) {
        self.init(message, line: node?.mark.map { $0.line })
    }

    public var description: String { line.map { "line \($0): \(message)" } ?? message }

    /// The message prefixed with `file:line:` (or `file:`), as compilers print them.
    public func located(in file: String) -> String {
        line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
}
