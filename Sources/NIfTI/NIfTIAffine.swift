/// The voxel → world affine, chosen exactly as nibabel 5's `Nifti1Header.get_best_affine`:
/// sform when its code is usable, else qform when its code is usable, else the "base" affine
/// from dims and pixdim (`shape_zoom_affine` with x flipped and the origin at the centre).
///
/// nibabel repairs some header fields when it loads a file (`Nifti1Header._chk_*`, logged at
/// warning level); the affine here applies the same repairs so that both agree on every file
/// nibabel accepts. The header itself keeps the values found in the file.
/// - xform codes outside 0...5 count as 0 (`_chk_xform_code`),
/// - pixdim[1...3] equal to 0 count as 1, negative ones as their absolute value (`_chk_pixdims`),
/// - qfac = pixdim[0] not in {-1, 1} counts as 1 (`_chk_qfac`; so 0 counts as 1).
public enum NIfTIAffine {
    /// xform codes nibabel recognises (`nifti1.xform_codes`: unknown, scanner, aligned,
    /// talairach, mni, template).
    public static let knownXformCodes = 0...5

    /// Quaternion tolerance: 1 − (b² + c² + d²) within ±3 ε of zero means a = 0
    /// (nibabel `quaternion_threshold`: ε of float32 for NIfTI-1, of float64 for NIfTI-2,
    /// since the quaternion is stored in that precision).
    static func quaternionThreshold(_ format: NIfTIHeader.Format) -> Double {
        format == .nifti1 ? 3 * Double(Float.ulpOfOne) : 3 * Double.ulpOfOne
    }

    /// True when an xform code selects its transform (non-zero and known to nibabel).
    public static func isUsable(code: Int) -> Bool { code != 0 && knownXformCodes.contains(code) }

    /// The best affine (4×4, rows).
    public static func best(of h: NIfTIHeader) -> [[Double]] {
        if isUsable(code: h.sformCode) { return h.sform }
        if isUsable(code: h.qformCode) { return qform(of: h) }
        return base(of: h)
    }

    /// pixdim[1...3] as nibabel repairs them on load: 0 → 1, negative → absolute value.
    static func repairedSpatialPixdim(_ h: NIfTIHeader) -> [Double] {
        (1...3).map { i in
            let p = h.pixdim[i]
            return p == 0 ? 1 : Swift.abs(p)
        }
    }

    /// qfac as nibabel repairs it: pixdim[0] when it is −1 or 1, else 1.
    static func qfac(_ h: NIfTIHeader) -> Double { h.pixdim[0] == -1 ? -1 : 1 }

    /// The quaternion's real part a = √(1 − b² − c² − d²), or nil when b² + c² + d² exceeds 1
    /// by more than the threshold (nibabel `fillpositive` raises there).
    public static func quaternionA(of h: NIfTIHeader) -> Double? {
        let (b, c, d) = (h.quaternB, h.quaternC, h.quaternD)
        let w2 = 1.0 - (b * b + c * c + d * d)
        if Swift.abs(w2) < quaternionThreshold(h.format) { return 0 }
        if w2 < 0 { return nil }
        return w2.squareRoot()
    }

    /// The qform: R(quaternion) · diag(pixdim[1], pixdim[2], qfac · pixdim[3]), offsets
    /// qoffset_x/y/z (nifti1.h "METHOD 2"; nibabel `get_qform` with `quat2mat`).
    /// An invalid quaternion (rejected by the reader) is treated as a = 0.
    public static func qform(of h: NIfTIHeader) -> [[Double]] {
        let a = quaternionA(of: h) ?? 0
        let (b, c, d) = (h.quaternB, h.quaternC, h.quaternD)
        let r = rotation(w: a, x: b, y: c, z: d)
        var vox = repairedSpatialPixdim(h)
        vox[2] *= qfac(h)
        let offsets = [h.qoffsetX, h.qoffsetY, h.qoffsetZ]
        var out = identity4()
        for i in 0..<3 {
            for j in 0..<3 { out[i][j] = r[i][j] * vox[j] }
            out[i][3] = offsets[i]
        }
        return out
    }

    /// Rotation matrix of a quaternion (nibabel `quat2mat`: normalises by |q|², identity for
    /// |q|² below float64 ε).
    static func rotation(w: Double, x: Double, y: Double, z: Double) -> [[Double]] {
        let nq = w * w + x * x + y * y + z * z
        if nq < Double.ulpOfOne { return [[1, 0, 0], [0, 1, 0], [0, 0, 1]] }
        let s = 2.0 / nq
        let (bx, by, bz) = (x * s, y * s, z * s)
        let (wX, wY, wZ) = (w * bx, w * by, w * bz)
        let (xX, xY, xZ) = (x * bx, x * by, x * bz)
        let (yY, yZ, zZ) = (y * by, y * bz, z * bz)
        return [
            [1.0 - (yY + zZ), xY - wZ, xZ + wY],
            [xY + wZ, 1.0 - (xX + zZ), yZ - wX],
            [xZ - wY, yZ + wX, 1.0 - (xX + yY)],
        ]
    }

    /// nibabel's fallback (`get_base_affine` → `shape_zoom_affine(shape, zooms, x_flip=True)`):
    /// diag(−p1, p2, p3, 1) with translation −((n − 1) / 2) · zoom per axis, i.e. the centre of
    /// the volume at world 0. Shapes/zooms of fewer than 3 axes are padded with 1.
    public static func base(of h: NIfTIHeader) -> [[Double]] {
        let ndim = max(1, min(h.dim[0], 7))
        var shape: [Double] = [1, 1, 1]
        var zooms: [Double] = [1, 1, 1]
        let spatial = repairedSpatialPixdim(h)
        for i in 0..<min(ndim, 3) {
            shape[i] = Double(h.dim[i + 1])
            zooms[i] = spatial[i]
        }
        zooms[0] = -zooms[0]
        var out = identity4()
        for i in 0..<3 {
            out[i][i] = zooms[i]
            out[i][3] = -((shape[i] - 1) / 2.0) * zooms[i]
        }
        return out
    }

    static func identity4() -> [[Double]] {
        (0..<4).map { i in (0..<4).map { j in i == j ? 1.0 : 0.0 } }
    }

    /// Column norms of the affine's 3×3 part: the voxel spacing along x, y, z.
    public static func spacing(of affine: [[Double]]) -> [Double] {
        (0..<3).map { j in (0..<3).reduce(0.0) { $0 + affine[$1][j] * affine[$1][j] }.squareRoot() }
    }

    /// World axis each voxel axis points along most, as nibabel's `aff2axcodes` letters
    /// (RAS+ world: "R"/"L", "A"/"P", "S"/"I"), by the largest |entry| of each 3×3 column.
    /// A zero column gives "?".
    public static func axisCodes(of affine: [[Double]]) -> String {
        let positive: [Character] = ["R", "A", "S"], negative: [Character] = ["L", "P", "I"]
        return String((0..<3).map { j -> Character in
            let column = (0..<3).map { affine[$0][j] }
            guard let row = (0..<3).max(by: { Swift.abs(column[$0]) < Swift.abs(column[$1]) }), column[row] != 0 else { return "?" }
            return column[row] > 0 ? positive[row] : negative[row]
        })
    }
}
