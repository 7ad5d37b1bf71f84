import Synchronization
import VoxSources

/// A volume computed from a formula, recording which rows were asked for.
final class FakeVolume: VolumeSource {
    let dataType: DataType
    let channelCount: Int
    let scales: [ScaleGeometry]
    private let requested = Mutex<[Range<Int>]>([])

    init(size: Vec3, chunk: Vec3, zOffset: Int = 0, channels: Int = 1, dataType: DataType = .uint8) {
        self.dataType = dataType
        self.channelCount = channels
        self.scales = [ScaleGeometry(key: "s", size: size, voxelOffset: Vec3(0, 0, zOffset), chunkSize: chunk, resolution: [1, 1, 1], encoding: "raw")]
    }

    var requestedRows: [Range<Int>] { requested.withLock { $0 } }
    func forgetRequests() { requested.withLock { $0.removeAll() } }

    func byte(z: Int, y: Int, index: Int) -> UInt8 { UInt8(truncatingIfNeeded: index &* 31 &+ y &* 7 &+ z &* 13) }

    /// Whether `planeRowsIfCached` answers, as a volume with every chunk in memory.
    let inMemory = Atomic<Bool>(false)

    func planeRows(scale: Int, z: Int, rows: Range<Int>, columns: Range<Int>) async throws -> [UInt8] {
        requested.withLock { $0.append(rows) }
        return bytes(z: z, rows: rows, columns: columns)
    }

    func planeRowsIfCached(scale: Int, z: Int, rows: Range<Int>, columns: Range<Int>) -> [UInt8]? {
        inMemory.load(ordering: .relaxed) ? bytes(z: z, rows: rows, columns: columns) : nil
    }

    /// `index` counts bytes from the start of the full row, so a crop reads the same bytes.
    private func bytes(z: Int, rows: Range<Int>, columns: Range<Int>) -> [UInt8] {
        let voxelBytes = channelCount * dataType.byteWidth
        var out: [UInt8] = []
        for y in rows {
            for i in (columns.lowerBound * voxelBytes)..<(columns.upperBound * voxelBytes) { out.append(byte(z: z, y: y, index: i)) }
        }
        return out
    }
}
