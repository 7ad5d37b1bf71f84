import Foundation
import Testing
import VoxNamespace

/// Every config under mountconfigs/ must load as shipped.
@Suite struct ShippedConfigTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("mountconfigs")

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test func thereAreConfigs() {
        #expect(Self.files.contains("minnie65.yaml"))
        #expect(Self.files.contains("minnie35.yaml"))
        #expect(Self.files.contains("pinky.yaml"))
        #expect(Self.files.contains("l4dense.yaml"))
    }

    @Test(arguments: files)
    func loads(file: String) throws {
        let config = try MountConfig.load(path: Self.directory.appendingPathComponent(file).path)
        #expect(!config.mounts.isEmpty)
    }
}
