/// Failures of a volume source that are not transport failures.
public enum SourceError: Error, Sendable, CustomStringConvertible {
    /// The layer's metadata is missing a field or has a wrong one.
    case invalidInfo(String, url: String)
    /// The layer uses something this build cannot read.
    case unsupported(String, url: String)
    /// A chunk's bytes do not decode to the expected shape.
    case corruptChunk(String, url: String)
    /// A chunk is missing and the mount does not fill missing chunks with zeros.
    case missingChunk(url: String)
    /// A request outside the volume.
    case outOfBounds(String)
    /// A file of the source (an HDF5 cube) cannot be read as what it should be.
    case unreadableFile(String, url: String)

    public var description: String {
        switch self {
        case let .invalidInfo(message, url): "invalid info at \(url): \(message)"
        case let .unsupported(message, url): "unsupported at \(url): \(message)"
        case let .corruptChunk(message, url): "corrupt chunk \(url): \(message)"
        case let .missingChunk(url): "missing chunk \(url) (fill_missing is off)"
        case let .outOfBounds(message): "out of bounds: \(message)"
        case let .unreadableFile(message, url): "cannot read \(url): \(message)"
        }
    }
}
