import Foundation
import VoxCache
import VoxSources
import VoxTransport
import VoxViews

/// What a segmentation layer's info names besides its scales: `meshes/`, `skeletons/` and
/// `segment_properties.json`.
enum SegmentationExtras {
    /// Levels of detail offered as `meshes/lod<k>/`.
    static let lodDirectories = 8
    /// Ids listed from segment properties, at most.
    static let maxListedIDs = 1_000_000

    /// The extra children of layer `path`; a part whose metadata cannot be read is left out
    /// (and logged), so a broken mesh directory never hides the layer's voxels.
    static func open(path: String, info: PrecomputedInfo, store: any ObjectStore, caches: SourceCaches, files: MemoryCache<[UInt8]>) async -> [(String, VirtualNode)] {
        var children: [(String, VirtualNode)] = []
        var ids: [UInt64] = []
        if let directory = info.segmentPropertiesDirectory {
            do {
                let key = directory + "/info"
                guard let fetched = try await MetadataCache.fetch(key, from: store, disk: caches.disk) else {
                    throw SourceError.invalidInfo("no segment properties info (404)", url: store.describe(key))
                }
                ids = try segmentIDs(fetched.bytes, url: store.describe(key))
                children.append(("segment_properties.json", .file(StaticFileView(fetched.bytes))))
            } catch {
                Log.error("\(path): segment properties left out: \(error)")
            }
        }
        let source = store.location
        if let directory = info.meshDirectory {
            do {
                let meshes = try await MeshSources.open(store: store, directory: directory, caches: caches)
                func build(_ lod: Int) -> SegmentFilesDirectory.Build {
                    { segment, fileExtension in
                        guard let mesh = try await meshes.mesh(segment, lod: lod) else { return nil }
                        let comment = "voxfs: segment \(segment), level of detail \(lod), nm, from \(source)"
                        return fileExtension == "ply" ? MeshFiles.ply(mesh, comment: comment) : MeshFiles.obj(mesh, comment: comment)
                    }
                }
                let levels = (0..<min(meshes.maxLevels, lodDirectories)).map { lod -> (String, VirtualNode) in
                    ("lod\(lod)", .directory(SegmentFilesDirectory(
                        path: "\(path)/meshes/lod\(lod)", extensions: ["ply", "obj"], listedIDs: ids, files: files, build: build(lod))))
                }
                children.append(("meshes", .directory(SegmentFilesDirectory(
                    path: path + "/meshes", extensions: ["ply", "obj"], listedIDs: ids, subdirectories: levels, files: files, build: build(0)))))
            } catch {
                Log.error("\(path): meshes left out: \(error)")
            }
        }
        if let directory = info.skeletonDirectory {
            do {
                let skeletons = try await SkeletonSource.open(store: store, directory: directory, caches: caches)
                children.append(("skeletons", .directory(SegmentFilesDirectory(
                    path: path + "/skeletons", extensions: ["swc"], listedIDs: ids, files: files
                ) { segment, _ in
                    guard let skeleton = try await skeletons.skeleton(segment) else { return nil }
                    return MeshFiles.swc(skeleton, comment: "voxfs: skeleton of segment \(segment), nm, from \(source)")
                })))
            } catch {
                Log.error("\(path): skeletons left out: \(error)")
            }
        }
        return children
    }

    /// The ids of a `neuroglancer_segment_properties` info (decimal strings in `inline.ids`).
    static func segmentIDs(_ json: [UInt8], url: String) throws -> [UInt64] {
        guard let root = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any],
              let inline = root["inline"] as? [String: Any], let ids = inline["ids"] as? [String]
        else { throw SourceError.invalidInfo("expected inline.ids, a list of decimal strings", url: url) }
        return ids.prefix(maxListedIDs).compactMap { MeshSources.segmentID(Substring($0)) }
    }
}
