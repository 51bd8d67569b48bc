// One preprocessed case on disk (`data.cache: disk`, or `auto` once memory runs short):
//   magic "DROCASE1" (8 bytes) · UInt32 little-endian length n · n bytes of JSON metadata
//   (`CaseCacheHeader`) · image C×D×H×W Float32 little-endian · label D×H×W UInt8 (if any).
// Written to a temporary file and renamed, so a killed run never leaves a half case behind; a
// file whose magic, metadata or size does not match is refused with its path.

import Foundation

/// What a cached case needs besides its voxels.
struct CaseCacheHeader: Codable {
    var id: String
    var channels: Int
    var shape: GridShape
    var spacing: Spacing
    var affine: [[Double]]
    var geometry: CaseGeometry
    var intensityStats: [ChannelStats]?
    var group: String?
    var hasLabel: Bool
}

public enum CaseCacheFile {
    static let magic = Array("DROCASE1".utf8)

    /// Bytes the file of `volume` occupies.
    public static func voxelBytes(_ volume: CaseVolume) -> Int {
        volume.image.count * MemoryLayout<Float>.size + (volume.label?.count ?? 0)
    }

    public static func write(_ volume: CaseVolume, to path: String) throws {
        let header = CaseCacheHeader(id: volume.id, channels: volume.channels, shape: volume.shape,
                                     spacing: volume.spacing, affine: volume.affine, geometry: volume.geometry,
                                     intensityStats: volume.intensityStats, group: volume.group,
                                     hasLabel: volume.label != nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys     // the same case always writes the same bytes
        let json = try encoder.encode(header)
        var data = Data(magic)
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        volume.image.withUnsafeBufferPointer { buffer in
            #if _endian(big)
            for value in buffer { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            #else
            data.append(UnsafeBufferPointer(start: buffer.baseAddress, count: buffer.count))
            #endif
        }
        if let label = volume.label { data.append(contentsOf: label) }
        let temporary = path + ".tmp"
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw DataError.io(path: path, reason: "case cache file: cannot write: \(error.localizedDescription)")
        }
    }

    public static func read(path: String) throws -> CaseVolume {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.io(path: path, reason: "case cache file: cannot read the file")
        }
        let prefix = magic.count + 4
        guard data.count >= prefix, Array(data.prefix(magic.count)) == magic else {
            throw DataError.io(path: path, reason: "case cache file: not a dro-seg case cache file (bad magic)")
        }
        let length = data[magic.count..<prefix].enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        guard data.count >= prefix + length,
              let header = try? JSONDecoder().decode(CaseCacheHeader.self, from: data[prefix..<(prefix + length)]) else {
            throw DataError.io(path: path, reason: "case cache file: corrupt metadata")
        }
        let voxels = header.shape.count
        guard header.channels >= 1, voxels > 0 else {
            throw DataError.io(path: path, reason: "case cache file: corrupt metadata (shape \(header.shape), \(header.channels) channels)")
        }
        let imageBytes = header.channels * voxels * MemoryLayout<Float>.size
        let expected = prefix + length + imageBytes + (header.hasLabel ? voxels : 0)
        guard data.count == expected else {
            throw DataError.io(path: path, reason: "case cache file: \(data.count) bytes, expected \(expected) (truncated or foreign)")
        }
        let start = prefix + length
        var image = [Float](repeating: 0, count: header.channels * voxels)
        image.withUnsafeMutableBytes { target in
            data.copyBytes(to: target, from: start..<(start + imageBytes))
        }
        #if _endian(big)
        image = image.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
        #endif
        let label = header.hasLabel ? [UInt8](data[(start + imageBytes)...]) : nil
        return try CaseVolume(id: header.id, channels: header.channels, shape: header.shape, image: image, label: label,
                              spacing: header.spacing, affine: header.affine, geometry: header.geometry,
                              intensityStats: header.intensityStats, group: header.group)
    }
}
