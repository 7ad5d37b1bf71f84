/// A problem with a config, phrased for the user: it names the key or value at fault.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
