/// How a directory of HDF5 cubes tiles one volume: `x{x}y{y}z{z}.hdf5` holding dataset
/// `/data`, (Z, Y, X), `cube` voxels each, cube (0, 0, 0) starting at voxel `origin`.
public struct HDF5GridLayout: Sendable, Equatable {
    public var pattern: String
    public var dataset: String
    public var cube: Vec3
    /// Nanometres per voxel, x, y, z.
    public var resolution: [Double]
    public var origin: Vec3

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(pattern: String, dataset: String = "/data", cube: Vec3, resolution: [Double], origin: Vec3 = Vec3(0, 0, 0)) throws(Invalid) {
        for axis in ["x", "y", "z"] {
            let count = pattern.components(separatedBy: "{\(axis)}").count - 1
            guard count == 1 else { throw Invalid(description: "pattern '\(pattern)' must contain {\(axis)} once (has it \(count) times)") }
        }
        guard !pattern.contains("/") else { throw Invalid(description: "pattern '\(pattern)' names files of one directory: no '/'") }
        guard cube.x > 0, cube.y > 0, cube.z > 0 else { throw Invalid(description: "cube \(cube) must be positive") }
        guard resolution.count == 3, resolution.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw Invalid(description: "resolution \(resolution) must be three positive numbers")
        }
        guard dataset.hasPrefix("/"), dataset.count < 500 else { throw Invalid(description: "dataset '\(dataset)' must be an absolute path like /data") }
        self.pattern = pattern
        self.dataset = dataset
        self.cube = cube
        self.resolution = resolution
        self.origin = origin
    }

    /// The cube a file name stands for, or nil when the name does not match the pattern.
    /// Indices are decimal (leading zeros allowed) and may be negative.
    public func cubeIndex(of name: String) -> Vec3? {
        var values: [Character: Int] = [:]
        var rest = Substring(name)
        var template = Substring(pattern)
        while !template.isEmpty {
            if template.hasPrefix("{"), template.count >= 3, let axis = template.dropFirst().first, "xyz".contains(axis),
               template.dropFirst(2).hasPrefix("}") {
                let sign = rest.hasPrefix("-") ? 1 : 0
                let digits = rest.dropFirst(sign).prefix { $0.isASCII && $0.isNumber }
                guard !digits.isEmpty, digits.count <= 9, let value = Int(rest.prefix(sign + digits.count)) else { return nil }
                values[axis] = value
                rest = rest.dropFirst(sign + digits.count)
                template = template.dropFirst(3)
            } else {
                guard rest.first == template.first else { return nil }
                rest = rest.dropFirst()
                template = template.dropFirst()
            }
        }
        guard rest.isEmpty, let x = values["x"], let y = values["y"], let z = values["z"] else { return nil }
        return Vec3(x, y, z)
    }

    /// The first voxel of cube `index`.
    func start(ofCube index: Vec3) -> Vec3 { origin + index * cube }

    /// The cube holding absolute voxel `voxel`.
    func cube(holding voxel: Vec3) -> Vec3 {
        func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
        let local = voxel - origin
        return Vec3(floorDiv(local.x, cube.x), floorDiv(local.y, cube.y), floorDiv(local.z, cube.z))
    }
}
