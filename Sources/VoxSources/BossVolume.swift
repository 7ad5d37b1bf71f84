import Foundation
import VoxTransport

/// A channel of a BossDB collection (`bossdb://<collection>/<experiment>/<channel>`), served
/// as a precomputed-style volume.
///
/// Metadata comes from the channel, experiment and coordinate-frame endpoints; chunks are
/// 512×512×16 cutouts (BossDB's cuboid, far below its 500 MB request limit) fetched as
/// `application/npygz`. Every request carries `Authorization: Token <token>`.
public enum BossVolume {
    /// BossDB's storage cuboid: cutouts aligned to it are served without re-tiling.
    static let cuboid = Vec3(512, 512, 16)

    public static func open(
        api: String, collection: String, experiment: String, channel: String, token: String, caches: SourceCaches
    ) async throws -> PrecomputedVolume {
        let api = api.hasSuffix("/") ? String(api.dropLast()) : api
        let client = HTTPClient(headers: ["Authorization: Token " + token])
        let names = [collection, experiment, channel].map(URLPath.escapeQueryValue)
        let channelURL = "\(api)/v1/collection/\(names[0])/experiment/\(names[1])/channel/\(names[2])/"
        let experimentURL = "\(api)/v1/collection/\(names[0])/experiment/\(names[1])/"
        let channelInfo = try await object(channelURL, client)
        let experimentInfo = try await object(experimentURL, client)
        guard let frame = experimentInfo["coord_frame"] as? String else {
            throw SourceError.invalidInfo("no coord_frame", url: experimentURL)
        }
        let frameURL = "\(api)/v1/coord/\(URLPath.escapeQueryValue(frame))/"
        let frameInfo = try await object(frameURL, client)

        let typeName = (channelInfo["datatype"] as? String) ?? ""
        guard let dataType = DataType(rawValue: typeName) else {
            throw SourceError.invalidInfo("unsupported datatype '\(typeName)'", url: channelURL)
        }
        let levels = try Self.levels(frame: frameInfo, frameURL: frameURL, count: (experimentInfo["num_hierarchy_levels"] as? Int) ?? 1,
                                     isotropic: (experimentInfo["hierarchy_method"] as? String) == "isotropic")
        let info = try CutoutLevel.info(
            type: (channelInfo["type"] as? String) == "annotation" ? "segmentation" : "image", dataType: dataType, levels: levels,
            url: channelURL)
        let cutouts = "\(api)/v1/cutout/\(names[0])/\(names[1])/\(names[2])"
        let readers: [any ChunkReader] = levels.indices.map { level in
            CutoutChunkReader(client: client, level: level, accept: "application/npygz") { level, begin, end in
                "\(cutouts)/\(level)/\(begin.x):\(end.x)/\(begin.y):\(end.y)/\(begin.z):\(end.z)/"
            }
        }
        let decoders: [any ChunkDecoder] = levels.map { _ in NPYGzipDecoder() }
        return PrecomputedVolume(info: info, version: nil, location: "bossdb://\(collection)/\(experiment)/\(channel)@\(api)",
                                 readers: readers, decoders: decoders, caches: caches)
    }

    private static func object(_ url: String, _ client: HTTPClient) async throws -> [String: Any] {
        let body = try await client.counted {
            let response = try await client.send(HTTPRequest(url: url, headers: ["Accept: application/json"]))
            guard response.status == 200 else { throw StoreError.status(response, url: url) }
            return response.body
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw SourceError.invalidInfo("expected a JSON object", url: url)
        }
        return object
    }

    /// Level r halves x and y (and z when isotropic) r times; extents round outwards.
    static func levels(frame: [String: Any], frameURL: String, count: Int, isotropic: Bool) throws -> [CutoutLevel] {
        func number(_ key: String) throws -> Double {
            guard let value = (frame[key] as? NSNumber)?.doubleValue else { throw SourceError.invalidInfo("missing \(key)", url: frameURL) }
            return value
        }
        let start = Vec3(Int(try number("x_start")), Int(try number("y_start")), Int(try number("z_start")))
        let stop = Vec3(Int(try number("x_stop")), Int(try number("y_stop")), Int(try number("z_stop")))
        let voxel = [try number("x_voxel_size"), try number("y_voxel_size"), try number("z_voxel_size")]
        let unit = (frame["voxel_unit"] as? String) ?? "nanometers"
        let unitsInNanometers: [String: Double] = ["nanometers": 1, "micrometers": 1000, "millimeters": 1e6, "centimeters": 1e7]
        let toNanometers: Double = unitsInNanometers[unit] ?? 1
        guard stop.x > start.x, stop.y > start.y, stop.z > start.z, (1...32).contains(count) else {
            throw SourceError.invalidInfo("empty coordinate frame or bad num_hierarchy_levels", url: frameURL)
        }
        return (0..<count).map { level in
            let factor = Vec3(1 << level, 1 << level, isotropic ? 1 << level : 1)
            let low = Vec3(start.x / factor.x, start.y / factor.y, start.z / factor.z)
            let rounding = factor - Vec3(1, 1, 1)
            let high = Vec3((stop.x + rounding.x) / factor.x, (stop.y + rounding.y) / factor.y, (stop.z + rounding.z) / factor.z)
            let scales: [Double] = [Double(factor.x), Double(factor.y), Double(factor.z)]
            let resolution: [Double] = (0..<3).map { voxel[$0] * scales[$0] * toNanometers }
            return CutoutLevel(size: high - low, offset: low, resolution: resolution, chunk: cuboid)
        }
    }
}
