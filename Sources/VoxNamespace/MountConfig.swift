import Foundation
import VoxSources
import Yams

/// The YAML config: which sources appear where, and the cache.
///
/// ```yaml
/// mounts:
///   /minnie65/em: precomputed://gs://iarpa_microns/minnie/minnie65/em
///   /local/em:
///     source: precomputed://http://127.0.0.1:8080/em
///     fill_missing: true
///   /l4dense: webdav+https://l4dense2019.brain.mpg.de/webdav/
///   /tables:
///     source: s3://bucket/prefix/
///     block_size: 4MiB
/// cache:
///   dir: ~/.cache/voxfs
///   size: 20GiB
/// ```
public struct MountConfig: Sendable, Equatable {
    public struct Mount: Sendable, Equatable {
        public var path: String
        public var source: SourceSpec
        /// Read chunks that do not exist (404) as zeros, as CloudVolume's fill_missing does.
        public var fillMissing: Bool
        /// File trees: the unit of fetching and caching.
        public var blockSize: Int = 1 << 20
        /// File trees: the largest readahead window of a sequential reader.
        public var readahead: Int = 64 << 20
        /// Where the mount is in the config file, for messages.
        public var line: Int?
        /// BossDB: the API base (else `$BOSSDB_API_URL`, else https://api.bossdb.io).
        public var api: String?
        /// BossDB: the token (else `$BOSSDB_TOKEN`, else the public account).
        public var token: String?
        /// HDF5 grids: how the cubes tile the volume.
        public var grid: HDF5GridLayout?
        /// Volumes: the largest cutout file served; larger boxes are EFBIG.
        public var maxCutout: Int = Self.defaultMaxCutout

        public static let defaultMaxCutout = 2 << 30
    }

    public var mounts: [Mount]
    public var cacheDirectory: String?
    public var cacheSize: Int?

    private static let topKeys: Set = ["mounts", "cache"]
    private static let mountKeys: Set = [
        "source", "fill_missing", "block_size", "readahead", "api", "token", "max_cutout", "pattern", "dataset", "cube", "resolution", "origin",
    ]
    private static let gridKeys = ["pattern", "dataset", "cube", "resolution", "origin"]
    static let blockSizes = (4 << 10)...(64 << 20)
    private static let cacheKeys: Set = ["dir", "size"]

    public static func load(path: String) throws(ConfigError) -> MountConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("\(path): cannot read config file")
        }
        do { return try parse(text) } catch { throw ConfigError(error.located(in: path)) }
    }

    public static func parse(_ text: String) throws(ConfigError) -> MountConfig {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw yamlError(error)
        }
        guard let top = root?.mapping else { throw ConfigError("the config must be a mapping with a 'mounts' key", at: root) }
        try checkKeys(top, allowed: topKeys, at: "")
        guard let mountsNode = top["mounts"] else { throw ConfigError("missing key 'mounts'", at: root) }
        guard let mountMap = mountsNode.mapping, !mountMap.isEmpty else {
            throw ConfigError("'mounts' must map virtual paths to sources", at: mountsNode)
        }
        var mounts: [Mount] = []
        for (keyNode, value) in mountMap {
            let path = keyNode.string ?? ""
            let at = "mounts.\(path)"
            try checkMountPath(path, at: at, node: keyNode)
            mounts.append(try mount(path: path, value, at: at))
        }
        try checkOverlaps(mounts)
        var config = MountConfig(mounts: mounts)
        if let cache = top["cache"] {
            guard let options = cache.mapping else { throw ConfigError("cache: expected a mapping with 'dir' and/or 'size'", at: cache) }
            try checkKeys(options, allowed: cacheKeys, at: "cache.")
            if let dir = options["dir"] {
                guard let text = dir.string, !text.isEmpty else { throw ConfigError("cache.dir: expected a path", at: dir) }
                config.cacheDirectory = text
            }
            if let size = options["size"] {
                guard let text = size.string, let bytes = ByteSize.parse(text) else {
                    throw ConfigError("cache.size: '\(size.string ?? "?")' is not a size like 20GiB", at: size)
                }
                config.cacheSize = bytes
            }
        }
        return config
    }

    private static func mount(path: String, _ value: Node, at: String) throws(ConfigError) -> Mount {
        if let text = value.string { return Mount(path: path, source: try source(text, at: at, node: value), fillMissing: true, line: line(value)) }
        guard let options = value.mapping else {
            throw ConfigError("\(at): expected a source URL or a mapping with 'source'", at: value)
        }
        try checkKeys(options, allowed: mountKeys, at: at + ".")
        guard let text = options["source"]?.string else { throw ConfigError("\(at): missing key 'source'", at: value) }
        var mount = Mount(path: path, source: try source(text, at: at, node: options["source"]), fillMissing: true, line: line(value))
        let isTree = mount.source.format == .files
        if let flag = options["fill_missing"] {
            guard mount.source.format == .precomputed || mount.source.format == .hdf5grid else {
                throw ConfigError("\(at).fill_missing: only precomputed and hdf5grid sources have chunks that may be missing", at: flag)
            }
            guard let bool = flag.bool else { throw ConfigError("\(at).fill_missing: expected true or false", at: flag) }
            mount.fillMissing = bool
        }
        for (key, limits) in [("block_size", blockSizes), ("readahead", 0...(1 << 30))] {
            guard let node = options[key] else { continue }
            guard isTree else { throw ConfigError("\(at).\(key): only file trees are read in blocks", at: node) }
            guard let text = node.string, let bytes = ByteSize.parse(text), limits.contains(bytes) else {
                throw ConfigError("\(at).\(key): '\(node.string ?? "?")' is not a size from \(limits.lowerBound) to \(limits.upperBound) bytes, like 4MiB", at: node)
            }
            if key == "block_size" { mount.blockSize = bytes } else { mount.readahead = bytes }
        }
        for key in ["api", "token"] {
            guard let node = options[key] else { continue }
            guard mount.source.format == .bossdb else { throw ConfigError("\(at).\(key): only bossdb:// sources take '\(key)'", at: node) }
            guard let text = node.string, !text.isEmpty else { throw ConfigError("\(at).\(key): expected a string", at: node) }
            if key == "api" {
                guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                    throw ConfigError("\(at).api: '\(text)' is not an http(s) URL", at: node)
                }
                mount.api = text
            } else {
                mount.token = text
            }
        }
        if let node = options["max_cutout"] {
            guard !isTree else { throw ConfigError("\(at).max_cutout: only volumes have cutouts", at: node) }
            guard let text = node.string, let bytes = ByteSize.parse(text), bytes > 0 else {
                throw ConfigError("\(at).max_cutout: '\(node.string ?? "?")' is not a size like 2GiB", at: node)
            }
            mount.maxCutout = bytes
        }
        if mount.source.format == .hdf5grid {
            mount.grid = try gridLayout(options, at: at, node: value)
        } else if let key = gridKeys.first(where: { options[$0] != nil }) {
            throw ConfigError("\(at).\(key): only hdf5grid+ sources take '\(key)'", at: options[key])
        }
        return mount
    }

    /// The cube layout of an hdf5grid mount: pattern, cube and resolution are required.
    private static func gridLayout(_ options: Node.Mapping, at: String, node: Node) throws(ConfigError) -> HDF5GridLayout {
        func vector(_ key: String, integers: Bool) throws(ConfigError) -> [Double]? {
            guard let value = options[key] else { return nil }
            let numbers = value.sequence?.compactMap { item -> Double? in
                guard let text = item.string else { return nil }
                return integers ? Int(text).map(Double.init) : Double(text)
            }
            guard let numbers, numbers.count == 3, value.sequence?.count == 3 else {
                throw ConfigError("\(at).\(key): expected three \(integers ? "integers" : "numbers") [x, y, z]", at: value)
            }
            return numbers
        }
        for key in ["pattern", "cube", "resolution"] where options[key] == nil {
            throw ConfigError("\(at): an hdf5grid source needs '\(key)'", at: node)
        }
        guard let pattern = options["pattern"]?.string else { throw ConfigError("\(at).pattern: expected a file name pattern like x{x}y{y}z{z}.hdf5", at: options["pattern"]) }
        if let node = options["dataset"], node.scalar == nil {
            throw ConfigError("\(at).dataset: expected a dataset path like /data", at: node)
        }
        let dataset = options["dataset"]?.string ?? "/data"
        let cube = try vector("cube", integers: true)!.map(Int.init)
        let resolution = try vector("resolution", integers: false)!
        let origin = try vector("origin", integers: true)?.map(Int.init) ?? [0, 0, 0]
        do {
            return try HDF5GridLayout(
                pattern: pattern, dataset: dataset, cube: Vec3(cube[0], cube[1], cube[2]), resolution: resolution,
                origin: Vec3(origin[0], origin[1], origin[2]))
        } catch {
            let key = error.description.hasPrefix("pattern") ? "pattern" : error.description.hasPrefix("cube") ? "cube"
                : error.description.hasPrefix("resolution") ? "resolution" : "dataset"
            throw ConfigError("\(at).\(key): \(error.description)", at: options[key] ?? node)
        }
    }

    private static func source(_ text: String, at: String, node: Node?) throws(ConfigError) -> SourceSpec {
        do { return try SourceSpec(parsing: text) } catch { throw ConfigError("\(at): \(error.message)", at: node) }
    }

    private static func line(_ node: Node) -> Int? { node.mark.map { $0.line } }

    /// libyaml's error as one line, located where it was noticed.
    private static func yamlError(_ error: any Error) -> ConfigError {
        guard let error = error as? YamlError else { return ConfigError("not valid YAML: \(error)") }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let during = context.map { " (\($0.text) from line \($0.mark.line))" } ?? ""
            return ConfigError("not valid YAML: \(problem)\(during)", line: mark.line)
        default:
            return ConfigError("not valid YAML: \(error)")
        }
    }

    /// The kernel readahead (KiB) that suits these mounts, if the memory budget allows more
    /// than the kernel's 128 KiB. Sequential reads of plain files run twice as fast at 1 MiB
    /// as at 128 KiB (fewer round trips through the daemon). Volume files are bound by
    /// decoding, or by FUSE at 256 KiB already (a segmentation's disk-cache pass is as fast
    /// as at 1 MiB, and 20% slower at 128 KiB), while every page fault in a mapped
    /// `volume.npy` reads around by the readahead: a 512×512×32 region took 201 chunk fetches
    /// (0.53 s) at 1 MiB and 121 (0.35 s) at 256 KiB.
    public func kernelReadaheadKilobytes(budget: MemoryBudget) -> Int? {
        guard budget.allowsLargeKernelReadahead else { return nil }
        return mounts.contains { $0.source.format == .files || $0.source.format == .hdf5grid } ? 1024 : 256
    }

    public init(mounts: [Mount], cacheDirectory: String? = nil, cacheSize: Int? = nil) {
        self.mounts = mounts
        self.cacheDirectory = cacheDirectory
        self.cacheSize = cacheSize
    }

    private static func checkKeys(_ mapping: Node.Mapping, allowed: Set<String>, at prefix: String) throws(ConfigError) {
        for key in mapping.keys {
            let name = key.string ?? "?"
            guard allowed.contains(name) else {
                let choices = allowed.sorted().joined(separator: ", ")
                throw ConfigError("\(prefix)\(name): unknown key '\(name)' (expected one of: \(choices))", at: key)
            }
        }
    }

    private static func checkMountPath(_ path: String, at: String, node: Node) throws(ConfigError) {
        guard path.hasPrefix("/") else { throw ConfigError("\(at): mount paths must be absolute, like /\(path)", at: node) }
        let parts = path.split(separator: "/")
        guard !parts.isEmpty else { throw ConfigError("\(at): cannot mount a source at the root '/'", at: node) }
        for part in parts where part == "." || part == ".." || part.hasPrefix(".voxfs") {
            throw ConfigError("\(at): path component '\(part)' is not allowed", at: node)
        }
    }

    private static func checkOverlaps(_ mounts: [Mount]) throws(ConfigError) {
        let normalized = mounts.map { "/" + $0.path.split(separator: "/").joined(separator: "/") }
        for (i, a) in normalized.enumerated() {
            for j in (i + 1)..<normalized.count {
                let b = normalized[j]
                guard a == b || b.hasPrefix(a + "/") || a.hasPrefix(b + "/") else { continue }
                let what = a == b ? "is mounted twice (also at line \(mounts[i].line.map(String.init) ?? "?"))" : "overlaps mounts.\(a)"
                throw ConfigError("mounts.\(b): \(what); one source per directory", line: mounts[j].line)
            }
        }
    }
}
