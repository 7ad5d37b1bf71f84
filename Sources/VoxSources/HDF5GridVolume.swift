import VoxTransport

/// A directory of HDF5 cubes served as one precomputed-style volume (`hdf5grid+<tree URL>`).
///
/// The volume spans the bounding box of the cubes present; a cube missing inside it is a
/// missing chunk (zeros, or an error without fill_missing). Data type and chunking come from
/// the first cube that opens; volume chunks follow the HDF5 chunks (or planes, for
/// contiguous cubes) so that one volume chunk is one or a few ranged reads.
public enum HDF5GridVolume {
    /// Cubes tried at open before giving up: one broken cube must not stop the whole volume.
    static let probeAttempts = 8
    /// Largest volume chunk cut from a contiguous cube: whole planes up to this.
    static let contiguousChunkBytes = 4 << 20

    /// - Parameters:
    ///   - cubes: the files of the directory that match the layout's pattern, by cube index.
    ///   - version: identifies the listing (names, sizes, validators), for cache keys.
    public static func open(
        layout: HDF5GridLayout, cubes: [Vec3: any RemoteBytes], version: String, location: String, caches: SourceCaches,
        fillMissing: Bool = true
    ) async throws -> PrecomputedVolume {
        let indices = cubes.keys.sorted { ($0.z, $0.y, $0.x) < ($1.z, $1.y, $1.x) }
        guard let first = indices.first else {
            throw SourceError.invalidInfo("no file matches the pattern '\(layout.pattern)'", url: location)
        }
        let low = indices.reduce(first) { Vec3(min($0.x, $1.x), min($0.y, $1.y), min($0.z, $1.z)) }
        let high = indices.reduce(first) { Vec3(max($0.x, $1.x), max($0.y, $1.y), max($0.z, $1.z)) }
        let probe = try await probe(cubes, in: indices, layout: layout)
        let level = CutoutLevel(
            size: (high - low + Vec3(1, 1, 1)) * layout.cube, offset: layout.start(ofCube: low), resolution: layout.resolution,
            chunk: chunkSize(probe, layout: layout))
        let segmentation = [DataType.uint32, .uint64].contains(probe.dataType)
        let info = try CutoutLevel.info(type: segmentation ? "segmentation" : "image", dataType: probe.dataType, levels: [level], url: location)
        let reader = HDF5GridChunkReader(layout: layout, cubes: cubes, dataType: probe.dataType, first: (low, probe))
        return PrecomputedVolume(
            info: info, version: version, location: location, readers: [reader], decoders: [RawChunkDecoder()], caches: caches,
            fillMissing: fillMissing)
    }

    /// The first cube that opens and has the layout's shape.
    private static func probe(_ cubes: [Vec3: any RemoteBytes], in order: [Vec3], layout: HDF5GridLayout) async throws -> HDF5RemoteDataset {
        var firstError: (any Error)?
        for index in order.prefix(probeAttempts) {
            do {
                let dataset = try await HDF5RemoteDataset.open(cubes[index]!, path: layout.dataset)
                try HDF5GridChunkReader.check(dataset, layout: layout, dataType: dataset.dataType)
                return dataset
            } catch {
                Log.info("hdf5grid: skipping cube \(cubes[index]!.url) while probing: \(error)")
                firstError = firstError ?? error
            }
        }
        throw firstError!
    }

    /// HDF5 chunks where they tile the cube (else the largest sizes below them that do);
    /// for contiguous cubes, whole planes (or bands of rows, up to `contiguousChunkBytes`).
    static func chunkSize(_ dataset: HDF5RemoteDataset, layout: HDF5GridLayout) -> Vec3 {
        let cube = layout.cube
        func divisor(of length: Int, atMost limit: Int) -> Int {
            stride(from: min(max(limit, 1), length), through: 1, by: -1).first { length % $0 == 0 } ?? 1
        }
        switch dataset.storage {
        case let .chunked(shape, _):
            return Vec3(divisor(of: cube.x, atMost: shape.x), divisor(of: cube.y, atMost: shape.y), divisor(of: cube.z, atMost: shape.z))
        case .contiguous:
            let rowBytes = cube.x * dataset.dataType.byteWidth
            return Vec3(cube.x, divisor(of: cube.y, atMost: contiguousChunkBytes / max(rowBytes, 1)), 1)
        }
    }
}
