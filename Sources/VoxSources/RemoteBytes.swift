/// A remote file read in pieces: how the HDF5 grid source reaches each cube.
public protocol RemoteBytes: Sendable {
    var size: Int { get }
    /// The file's URL, for messages.
    var url: String { get }
    /// `range` if it is in memory now, else nil (never waits).
    func cached(_ range: Range<Int>) -> [UInt8]?
    /// Brings `range` (and what surrounds it, in whatever unit the file caches) into memory,
    /// so that `cached` answers: for the small, repeated reads of HDF5 metadata.
    func load(_ range: Range<Int>) async throws
    /// Exactly `range`, fetched for this call: for chunk data, which is cached decoded instead.
    func fetch(_ range: Range<Int>) async throws -> [UInt8]
}
