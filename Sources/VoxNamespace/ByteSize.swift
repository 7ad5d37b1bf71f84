/// Sizes written as `512MiB`, `20GiB`, `10GB`, `1.5TiB` or a plain byte count.
public enum ByteSize {
    private static let units: [(String, Double)] = [
        ("KiB", 1024), ("MiB", 1024 * 1024), ("GiB", 1024 * 1024 * 1024), ("TiB", 1024 * 1024 * 1024 * 1024),
        ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("K", 1024), ("M", 1024 * 1024),
        ("G", 1024 * 1024 * 1024), ("T", 1024 * 1024 * 1024 * 1024), ("B", 1),
    ]

    public static func parse(_ text: String) -> Int? {
        let trimmed = text.filter { $0 != " " }
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            guard let number = Double(trimmed.dropLast(suffix.count)), number >= 0 else { return nil }
            return Int(number * factor)
        }
        guard let number = Int(trimmed), number >= 0 else { return nil }
        return number
    }
}
