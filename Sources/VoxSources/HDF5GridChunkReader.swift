import VoxCache
import Synchronization

/// Volume chunks of an HDF5 grid: each lies inside one cube, and is read from that cube's
/// dataset as voxels (the decoder is `raw`). Cubes absent from the directory are missing chunks.
struct HDF5GridChunkReader: ChunkReader {
    let layout: HDF5GridLayout
    let cubes: [Vec3: any RemoteBytes]
    let dataType: DataType
    private let open: OpenDatasets
    /// Decoded HDF5 chunks larger than a volume chunk, shared by the volume chunks inside them.
    private let sharedChunks = MemoryCache<[UInt8]>(capacity: 64 << 20)

    /// Open cubes kept: each holds libhdf5's metadata cache of its file.
    static let openLimit = 16

    /// - Parameter first: a cube opened already (at probe), kept open.
    init(layout: HDF5GridLayout, cubes: [Vec3: any RemoteBytes], dataType: DataType, first: (Vec3, HDF5RemoteDataset)) {
        self.layout = layout
        self.cubes = cubes
        self.dataType = dataType
        self.open = OpenDatasets(limit: Self.openLimit)
        open.insert(first.0, Task { first.1 })
    }

    static func check(_ dataset: HDF5RemoteDataset, layout: HDF5GridLayout, dataType: DataType) throws(SourceError) {
        let expected = layout.cube
        guard dataset.shape == expected else {
            throw SourceError.unreadableFile(
                "dataset \(layout.dataset) is (Z, Y, X) = (\(dataset.shape.z), \(dataset.shape.y), \(dataset.shape.x)); "
                    + "the config's cube [\(expected.x), \(expected.y), \(expected.z)] needs (\(expected.z), \(expected.y), \(expected.x))",
                url: dataset.url)
        }
        guard dataset.dataType == dataType else {
            throw SourceError.unreadableFile("dataset \(layout.dataset) holds \(dataset.dataType), the other cubes \(dataType)", url: dataset.url)
        }
    }

    func storedChunk(scale: ScaleGeometry, cell: Vec3) async throws -> [UInt8]? {
        let (begin, end) = scale.chunkBounds(cell)
        let absolute = begin + scale.voxelOffset
        let index = layout.cube(holding: absolute)
        guard let file = cubes[index] else { return nil }
        let dataset = try await dataset(index, file)
        let local = absolute - layout.start(ofCube: index)
        let split: Bool
        if case let .chunked(shape, _) = dataset.storage { split = shape != scale.chunkSize } else { split = false }
        return try await dataset.read(from: local, to: local + (end - begin), shared: split ? sharedChunks : nil)
    }

    private func dataset(_ index: Vec3, _ file: any RemoteBytes) async throws -> HDF5RemoteDataset {
        let task = open.task(for: index) {
            Task {
                let dataset = try await HDF5RemoteDataset.open(file, path: layout.dataset)
                try Self.check(dataset, layout: layout, dataType: dataType)
                return dataset
            }
        }
        do { return try await task.value } catch {
            open.remove(index)  // a failure may be passing: the next read tries again
            throw error
        }
    }

    func describe(scale: ScaleGeometry, cell: Vec3) -> String {
        let (begin, end) = scale.chunkBounds(cell)
        let a = begin + scale.voxelOffset, b = end + scale.voxelOffset
        let index = layout.cube(holding: a)
        let name = cubes[index]?.url ?? "cube \(index) (\(layout.pattern))"
        return "\(name) voxels \(a.x)-\(b.x)_\(a.y)-\(b.y)_\(a.z)-\(b.z)"
    }
}

/// The cubes opened most recently, as tasks so that concurrent readers share one open.
final class OpenDatasets: Sendable {
    private struct State {
        var tasks: [Vec3: Task<HDF5RemoteDataset, any Error>] = [:]
        var order: [Vec3] = []
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func task(for index: Vec3, start: () -> Task<HDF5RemoteDataset, any Error>) -> Task<HDF5RemoteDataset, any Error> {
        state.withLock { state in
            if let task = state.tasks[index] {
                state.order.removeAll { $0 == index }
                state.order.append(index)
                return task
            }
            let task = start()
            add(index, task, to: &state)
            return task
        }
    }

    func insert(_ index: Vec3, _ task: Task<HDF5RemoteDataset, any Error>) {
        state.withLock { add(index, task, to: &$0) }
    }

    func remove(_ index: Vec3) {
        state.withLock { state in
            state.tasks[index] = nil
            state.order.removeAll { $0 == index }
        }
    }

    private func add(_ index: Vec3, _ task: Task<HDF5RemoteDataset, any Error>, to state: inout State) {
        state.tasks[index] = task
        state.order.append(index)
        while state.order.count > limit {
            state.tasks[state.order.removeFirst()] = nil
        }
    }
}
