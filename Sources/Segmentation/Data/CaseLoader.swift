// Reads a case from NIfTI files into memory: one file per channel (nnU-Net's CASE_0000,
// CASE_0001, ...) or 4D files whose 4th axis holds channels (MSD), and an optional label map.

import NIfTI

/// Largest difference between two affines' entries (mm) still taken as the same grid; well
/// below any voxel size, above Float rounding of stored srow values (~1e-5 mm at 100 mm).
let sameGridAffineTolerance = 1e-3

public enum CaseLoader {
    /// Reads and checks a case. All images must share the first image's grid (shape, affine);
    /// the label must too, and hold integers in 0…255.
    public static func load(id: String, imagePaths: [String], labelPath: String?,
                            group: String? = nil) throws -> CaseVolume {
        guard let first = imagePaths.first else {
            throw DataError.invalidOption(key: "case \(id) images", value: "[]", allowed: "at least one image file")
        }
        var image = [Float]()
        var channels = 0
        var reference: NIfTIImage? = nil
        for path in imagePaths {
            let img = try NIfTIImage.read(path: path)
            let s = img.shape
            guard s.count >= 3, s.count <= 4 || s[4...].allSatisfy({ $0 == 1 }) else {
                throw DataError.invalidGeometry(caseID: id, field: "\(path) shape", value: "\(s)",
                                                allowed: "3D [nx, ny, nz] or 4D [nx, ny, nz, channels]")
            }
            if let ref = reference {
                try checkSameGrid(id: id, path: path, img, ref)
            } else {
                reference = img
            }
            let c = s.count >= 4 ? s[3] : 1
            let values = img.floatValues().prefix(c * s[0] * s[1] * s[2])
            if let bad = values.first(where: { !$0.isFinite }) {
                throw DataError.invalidGeometry(caseID: id, field: "\(path) values", value: "\(bad)",
                                                allowed: "finite intensities")
            }
            image.append(contentsOf: values)
            channels += c
        }
        guard let ref = reference else {
            throw DataError.io(path: first, reason: "no image read")
        }
        var label: [UInt8]? = nil
        if let labelPath {
            let l = try NIfTIImage.read(path: labelPath)
            try checkSameGrid(id: id, path: labelPath, l, ref)
            label = try labels(l.doubleValues(), path: labelPath)
        }
        return try CaseVolume(id: id, channels: channels, shape: GridShape(niftiShape: ref.shape), image: image,
                              label: label, spacing: Spacing(ref.spacing), affine: ref.affine, group: group)
    }

    static func checkSameGrid(id: String, path: String, _ a: NIfTIImage, _ ref: NIfTIImage) throws {
        let same = Array(a.shape.prefix(3)) == Array(ref.shape.prefix(3))
            && zip(a.affine.joined(), ref.affine.joined()).allSatisfy { abs($0 - $1) <= sameGridAffineTolerance }
        guard same else {
            throw DataError.geometryMismatch(caseID: id, file: path,
                                             found: "shape \(Array(a.shape.prefix(3))) affine \(a.affine)",
                                             expected: "shape \(Array(ref.shape.prefix(3))) affine \(ref.affine)")
        }
    }

    /// Label values as UInt8; each must be an integer in 0…255.
    static func labels(_ v: [Double], path: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: v.count)
        for (i, x) in v.enumerated() {
            guard x >= 0, x <= 255, x == x.rounded() else {
                throw DataError.invalidLabel(file: path, value: x, allowed: "integers 0…255")
            }
            out[i] = UInt8(x)
        }
        return out
    }
}
