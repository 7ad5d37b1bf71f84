import Foundation
import VoxTransport

/// A token of the Open Connectome Project / NeuroData ndstore cutout API
/// (`ocp+http(s)://<base>/<token>`), served as a precomputed-style volume.
///
/// Metadata comes from `<token>/info/`; chunks are `cube_dimension`-aligned HDF5 cutouts
/// (`<token>/hdf5/<res>/x0,x1/y0,y1/z0,z1/`, or `<token>/<channel>/hdf5/...` for servers
/// that want the channel) holding the token's first channel. Annotation channels are uint32 ids, served as segmentation.
public enum OCPVolume {
    public static func open(url: String, client: HTTPClient = HTTPClient(), caches: SourceCaches) async throws -> PrecomputedVolume {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let infoURL = base + "/info/"
        let response = try await client.counted {
            let response = try await client.send(HTTPRequest(url: infoURL))
            guard response.status == 200 else { throw StoreError.status(response, url: infoURL) }
            return response
        }
        let metadata = try Metadata(json: response.body, url: infoURL)
        let info = try CutoutLevel.info(
            type: metadata.isAnnotation ? "segmentation" : "image", dataType: metadata.dataType, levels: metadata.levels.map(\.1),
            url: infoURL)
        let channel = metadata.channel
        // The form the OCP docs give is <token>/hdf5/...; later ndstore servers want
        // <token>/<channel>/hdf5/.... Either answer may name the channel in the file or not.
        let form = CutoutChunkReader.URLForm()
        let escapedChannel = URLPath.escapeQueryValue(channel)
        let readers: [any ChunkReader] = metadata.levels.map { level, _ in
            CutoutChunkReader(client: client, level: level, accept: "application/octet-stream", form: form, url: { level, begin, end in
                "\(base)/hdf5/\(level)/\(begin.x),\(end.x)/\(begin.y),\(end.y)/\(begin.z),\(end.z)/"
            }, alternative: { level, begin, end in
                "\(base)/\(escapedChannel)/hdf5/\(level)/\(begin.x),\(end.x)/\(begin.y),\(end.y)/\(begin.z),\(end.z)/"
            })
        }
        let decoders: [any ChunkDecoder] = metadata.levels.map { _ in HDF5CutoutDecoder(channel: channel) }
        return PrecomputedVolume(info: info, version: response.headers["etag"], location: base, readers: readers, decoders: decoders,
                                 caches: caches)
    }

    struct Metadata {
        var channel: String
        var dataType: DataType
        var isAnnotation: Bool
        /// (level number, geometry), finest first.
        var levels: [(Int, CutoutLevel)]

        init(json: [UInt8], url: String) throws {
            func fail(_ message: String) -> SourceError { .invalidInfo(message, url: url) }
            guard let root = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any],
                  let dataset = root["dataset"] as? [String: Any] else { throw fail("expected a JSON object with 'dataset'") }
            guard let channels = root["channels"] as? [String: Any], let name = channels.keys.sorted().first,
                  let properties = channels[name] as? [String: Any] else { throw fail("no channels") }
            let typeName = (properties["datatype"] as? String) ?? ""
            guard let dataType = DataType(rawValue: typeName) else { throw fail("channel '\(name)': unsupported datatype '\(typeName)'") }
            channel = name
            self.dataType = dataType
            isAnnotation = (properties["channel_type"] as? String) == "annotation"
            let resolutions = (dataset["resolutions"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue }
                ?? ((dataset["imagesize"] as? [String: Any])?.keys.compactMap { Int($0) }.sorted() ?? [])
            func vector(_ field: String, _ level: Int) throws -> [Double] {
                guard let table = dataset[field] as? [String: Any], let list = table[String(level)] as? [Any], list.count == 3 else {
                    throw fail("dataset.\(field)[\(level)] must be three numbers")
                }
                let values = list.compactMap { ($0 as? NSNumber)?.doubleValue }
                guard values.count == 3 else { throw fail("dataset.\(field)[\(level)] must be three numbers") }
                return values
            }
            func integers(_ field: String, _ level: Int, positive: Bool) throws -> Vec3 {
                let values = try vector(field, level)
                guard values.allSatisfy({ $0 == $0.rounded() && (!positive || $0 > 0) && abs($0) < 1e15 }) else {
                    throw fail("dataset.\(field)[\(level)] must be \(positive ? "positive " : "")integers")
                }
                return Vec3(Int(values[0]), Int(values[1]), Int(values[2]))
            }
            levels = try resolutions.sorted().map { level in
                let resolution = try vector("voxelres", level)
                guard resolution.allSatisfy({ $0 > 0 }) else { throw fail("dataset.voxelres[\(level)] must be positive") }
                return (level, CutoutLevel(
                    size: try integers("imagesize", level, positive: true), offset: try integers("offset", level, positive: false),
                    resolution: resolution, chunk: try integers("cube_dimension", level, positive: true)))
            }
            guard !levels.isEmpty else { throw fail("no resolutions") }
        }
    }
}
