// swift-tools-version: 6.0
//
// libFuzzer harnesses for voxfs's parsers. Build and run with `Fuzz/run` (see README.md).
//
// Why the voxfs modules are mirrored here instead of `.package(path: "..")`: the root package
// exports only the `voxfs` executable product, and a package can only depend on another
// package's *products*, so `VoxSources` & co. are unreachable through a path dependency.
// `RootSources` is a symlink to `../Sources`; the targets below compile those very files
// (instrumented for coverage, with -enable-testing for `@testable import`). Keep the module
// list and dependencies in step with ../Package.swift (`Fuzz/run` checks this).
// If the root package ever exports the library targets as products, replace the mirror
// with `.package(path: "..")`.
import PackageDescription

let root = "RootSources/"
let harness: [SwiftSetting] = [.swiftLanguageMode(.v5), .unsafeFlags(["-parse-as-library"])]
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

/// Every harness links the same voxfs modules; each is one file defining LLVMFuzzerTestOneInput.
let fuzzTargets = [
    "cseg_decode",
    "minishard_index",
    "sharding_spec",
    "sharded_locate",
    "precomputed_info",
    "webdav_listing",
    "s3_listing",
    "gcs_listing",
    "autoindex_html",
    "autoindex_json",
    "cutout_name",
    "grid_pattern",
    "mesh_manifest",
    "legacy_mesh",
    "skeleton",
    "draco_mesh",
]

let package = Package(
    name: "voxfs-fuzz",
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // Mirror of ../Package.swift's library targets (same names, same sources, same deps).
        .systemLibrary(name: "CCurl", path: root + "CCurl", pkgConfig: "libcurl"),
        .systemLibrary(name: "CTurboJPEG", path: root + "CTurboJPEG", pkgConfig: "libturbojpeg"),
        .systemLibrary(name: "CZlib", path: root + "CZlib", pkgConfig: "zlib"),
        .systemLibrary(name: "CDeflate", path: root + "CDeflate", pkgConfig: "libdeflate"),
        .systemLibrary(name: "CZstd", path: root + "CZstd", pkgConfig: "libzstd"),
        .systemLibrary(name: "CSQLite", path: root + "CSQLite", pkgConfig: "sqlite3"),
        .systemLibrary(name: "CHDF5", path: root + "CHDF5", pkgConfig: "hdf5"),
        .target(name: "CDraco", path: root + "CDraco", linkerSettings: [.linkedLibrary("draco")]),
        .target(name: "VoxTransport", dependencies: ["CCurl", "CZlib"], path: root + "VoxTransport", swiftSettings: strict),
        .target(name: "VoxCache", dependencies: ["CZstd", "CSQLite", "CDeflate"], path: root + "VoxCache", swiftSettings: strict),
        .target(name: "VoxSources", dependencies: ["VoxTransport", "VoxCache", "CTurboJPEG", "CZlib", "CHDF5", "CDraco"],
                path: root + "VoxSources", swiftSettings: strict),
        .target(name: "VoxViews", dependencies: ["VoxSources", "CZlib", "CDeflate"], path: root + "VoxViews", swiftSettings: strict),
        .target(name: "VoxFileTree", dependencies: ["VoxTransport", "VoxCache", "VoxViews"], path: root + "VoxFileTree", swiftSettings: strict),
        .target(name: "VoxNamespace", dependencies: ["VoxViews", "VoxSources", "VoxTransport", "VoxFileTree", "Yams"],
                path: root + "VoxNamespace", swiftSettings: strict),

        // Helpers shared by the harnesses: input slicing, running async code to completion.
        .target(name: "FuzzSupport", path: "Harness/FuzzSupport", swiftSettings: [.swiftLanguageMode(.v5)]),
    ] + fuzzTargets.map { name in
        .executableTarget(
            name: name,
            dependencies: ["FuzzSupport", "VoxTransport", "VoxCache", "VoxSources", "VoxViews", "VoxFileTree", "VoxNamespace"],
            path: "Harness/" + name,
            swiftSettings: harness)
    },
    cxxLanguageStandard: .cxx17
)
