import Synchronization

/// libhdf5 is not safe to call from two threads at once: every call goes through this lock.
///
/// Nothing holds it while waiting on the network: remote HDF5 files are read through a driver
/// that fails when bytes are not at hand, and the caller fetches them and retries
/// (`HDF5RemoteDataset`). So the lock guards CPU work only.
enum HDF5Library {
    static let lock = Mutex(())
}
