// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "voxfs",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "voxfs", targets: ["voxfs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C shims: one per C library, for the macros and variadics Swift cannot call.
        .systemLibrary(name: "CFuse", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CMalloc"),
        // libdraco is C++: a small C face over it, compiled here.
        .target(name: "CDraco", linkerSettings: [.linkedLibrary("draco")]),

        // Data flows one way: Transport -> Cache -> Sources -> Views -> Namespace -> FUSE.
        .target(name: "VoxTransport", dependencies: ["CCurl", "CZlib"], swiftSettings: strict),
        .target(name: "VoxCache", dependencies: ["CZstd", "CSQLite", "CDeflate"], swiftSettings: strict),
        .target(name: "VoxSources", dependencies: ["VoxTransport", "VoxCache", "CTurboJPEG", "CZlib", "CHDF5", "CDraco"], swiftSettings: strict),
        .target(name: "VoxViews", dependencies: ["VoxSources", "CZlib", "CDeflate"], swiftSettings: strict),
        .target(name: "VoxFileTree", dependencies: ["VoxTransport", "VoxCache", "VoxViews"], swiftSettings: strict),
        .target(name: "VoxNamespace", dependencies: ["VoxViews", "VoxSources", "VoxTransport", "VoxFileTree", "Yams"], swiftSettings: strict),
        .target(name: "VoxFUSE", dependencies: ["VoxNamespace", "VoxTransport", "CFuse"], swiftSettings: strict),
        .target(name: "VoxDemo", dependencies: ["VoxSources", "CTurboJPEG"], swiftSettings: strict),
        .executableTarget(
            name: "voxfs",
            dependencies: [
                "VoxFUSE", "VoxNamespace", "VoxSources", "VoxTransport", "VoxDemo", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        .target(name: "VoxTestSupport", path: "Tests/VoxTestSupport", swiftSettings: strict),
        .testTarget(name: "VoxTransportTests", dependencies: ["VoxTransport", "VoxTestSupport"], swiftSettings: strict),
        .testTarget(name: "VoxCacheTests", dependencies: ["VoxCache", "CSQLite"], swiftSettings: strict),
        .testTarget(
            name: "VoxSourcesTests", dependencies: ["VoxSources", "VoxTransport", "VoxCache", "VoxDemo", "CZlib", "VoxTestSupport"],
            exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "VoxViewsTests", dependencies: ["VoxViews", "VoxSources", "VoxTransport", "CZlib"], swiftSettings: strict),
        .testTarget(name: "VoxFileTreeTests", dependencies: ["VoxFileTree", "VoxTransport", "VoxCache"], swiftSettings: strict),
        .testTarget(name: "VoxNamespaceTests", dependencies: ["VoxNamespace", "VoxTransport", "VoxFileTree", "VoxViews"], swiftSettings: strict),
    ],
    cxxLanguageStandard: .cxx17
)
