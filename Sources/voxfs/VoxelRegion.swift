import VoxSources

/// A box of voxels named like a precomputed chunk: `x0-x1_y0-y1_z0-z1`, absolute
/// coordinates, end exclusive.
struct VoxelRegion: Equatable {
    var lower: Vec3
    var upper: Vec3

    init(parsing text: String) throws {
        let axes = text.split(separator: "_", omittingEmptySubsequences: false)
        let bounds = axes.map { axis -> (Int, Int)? in
            let ends = axis.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count == 2, let low = Int(ends[0]), let high = Int(ends[1]), low >= 0, low < high else { return nil }
            return (low, high)
        }
        guard bounds.count == 3, let x = bounds[0], let y = bounds[1], let z = bounds[2] else {
            throw UserFacingError("--region '\(text)': expected x0-x1_y0-y1_z0-z1 with 0 <= start < end on each axis")
        }
        lower = Vec3(x.0, y.0, z.0)
        upper = Vec3(x.1, y.1, z.1)
    }

    var size: Vec3 { upper - lower }
}
