/// An integer x, y, z triple: sizes, offsets and grid positions.
public struct Vec3: Sendable, Hashable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var z: Int

    public init(_ x: Int, _ y: Int, _ z: Int) {
        self.x = x
        self.y = y
        self.z = z
    }

    public var product: Int { x * y * z }
    public var description: String { "[\(x), \(y), \(z)]" }

    public static func + (a: Vec3, b: Vec3) -> Vec3 { Vec3(a.x + b.x, a.y + b.y, a.z + b.z) }
    public static func - (a: Vec3, b: Vec3) -> Vec3 { Vec3(a.x - b.x, a.y - b.y, a.z - b.z) }
    public static func * (a: Vec3, b: Vec3) -> Vec3 { Vec3(a.x * b.x, a.y * b.y, a.z * b.z) }

    /// Component-wise ceil(a / b).
    public func ceilDiv(_ b: Vec3) -> Vec3 {
        Vec3((x + b.x - 1) / b.x, (y + b.y - 1) / b.y, (z + b.z - 1) / b.z)
    }

    public func min(_ b: Vec3) -> Vec3 { Vec3(Swift.min(x, b.x), Swift.min(y, b.y), Swift.min(z, b.z)) }
}
