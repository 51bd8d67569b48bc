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
        func corrupt(_ reason: String) -> DataError { .io(path: path, reason: "case cache file: corrupt metadata: \(reason)") }
        // Sizes come from the file: multiplied with overflow checks, so a huge extent is an error.
        let extents = [header.shape.d, header.shape.h, header.shape.w]
        guard extents.allSatisfy({ $0 >= 1 }), header.channels >= 1 else {
            throw corrupt("shape \(header.shape), \(header.channels) channels")
        }
        var voxels = 1
        for factor in extents {
            let (product, overflow) = voxels.multipliedReportingOverflow(by: factor)
            guard !overflow, product <= data.count else { throw corrupt("shape \(header.shape) is larger than the file") }
            voxels = product
        }
        let (values, valuesOverflow) = voxels.multipliedReportingOverflow(by: header.channels)
        guard !valuesOverflow, values <= data.count / MemoryLayout<Float>.size else {
            throw corrupt("\(header.channels) channels of shape \(header.shape) are larger than the file")
        }
        try checkGeometry(header.geometry, corrupt)
        let imageBytes = values * MemoryLayout<Float>.size
        let expected = prefix + length + imageBytes + (header.hasLabel ? voxels : 0)
        guard data.count == expected else {
            throw DataError.io(path: path, reason: "case cache file: \(data.count) bytes, expected \(expected) (truncated or foreign)")
        }
        let start = prefix + length
        var image = [Float](repeating: 0, count: header.channels * voxels)
        _ = image.withUnsafeMutableBytes { target in
            data.copyBytes(to: target, from: start..<(start + imageBytes))
        }
        #if _endian(big)
        image = image.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
        #endif
        let label = header.hasLabel ? [UInt8](data[(start + imageBytes)...]) : nil
        do {
            return try CaseVolume(id: header.id, channels: header.channels, shape: header.shape, image: image, label: label,
                                  spacing: header.spacing, affine: header.affine, geometry: header.geometry,
                                  intensityStats: header.intensityStats, group: header.group)
        } catch {
            throw corrupt("\(error)")
        }
    }

    /// The case geometry must describe a grid: a 4×4 affine, positive finite spacing, an axis
    /// permutation with three flips, and a crop box inside the reoriented grid.
    static func checkGeometry(_ g: CaseGeometry, _ corrupt: (String) -> DataError) throws {
        guard g.originalAffine.count == 4, g.originalAffine.allSatisfy({ $0.count == 4 }) else {
            throw corrupt("geometry.originalAffine is not a 4×4 matrix")
        }
        let shape = [g.originalShape.d, g.originalShape.h, g.originalShape.w]
        guard shape.allSatisfy({ $0 >= 1 }) else { throw corrupt("geometry.originalShape \(g.originalShape)") }
        let spacing = [g.originalSpacing.x, g.originalSpacing.y, g.originalSpacing.z]
        guard spacing.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw corrupt("geometry.originalSpacing \(spacing) (allowed: finite values > 0)")
        }
        guard g.orientation.isValid else {
            throw corrupt("geometry.orientation source \(g.orientation.source) flipped \(g.orientation.flipped) "
                          + "(allowed: a permutation of the axes 0, 1, 2 and 3 flips)")
        }
        let canonical = g.canonicalShape
        let box = g.cropBox
        for (axis, (lower, upper)) in [(box.lower.d, box.upper.d), (box.lower.h, box.upper.h),
                                       (box.lower.w, box.upper.w)].enumerated()
        where !(lower >= 0 && lower < upper && upper <= canonical[axis]) {
            throw corrupt("geometry.cropBox \(box) is not inside the grid \(canonical)")
        }
    }
}
