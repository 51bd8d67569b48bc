// Separable resampling between grids that cover the same box (nnU-Net's resample-to-shape).
//
// Output voxel o of an axis with n_in → n_out voxels samples input coordinate
//     u = (o + ½)·(n_in / n_out) − ½
// i.e. pixel centres aligned, the box edges fixed (skimage `resize`, which nnU-Net calls, with
// mode 'edge': u is clamped to [0, n_in − 1]). Each axis is interpolated on its own: linear on
// all three axes is exactly trilinear interpolation (a tensor product), and an axis may be
// nearest instead — nnU-Net's "separate z" for anisotropic data: when max/min spacing > 3 the
// thick axis is resampled with order 0 (nearest) and the in-plane axes with interpolation, so
// thick slices are not blended. Labels use nearest neighbour on every axis.

public enum InterpolationMode: String, Codable, Sendable { case linear, nearest }

/// nnU-Net's `ANISO_THRESHOLD` (nnunetv2/configuration.py): max/min spacing above which the
/// thick axis is resampled separately.
public let defaultAnisotropyThreshold = 3.0

public enum Resampler {
    /// nnU-Net's new shape: round(n · old spacing / new spacing) per axis, at least 1.
    /// The largest grid preprocessing resamples to (voxels per channel): 2³⁰ Floats are 4 GiB
    /// per channel, far beyond any MRI volume; a larger one comes from a mistyped target spacing.
    public static let maxVoxels = 1 << 30

    /// `shape` after resampling, or an error naming the case when it would exceed `maxVoxels`
    /// (checked in Double before any integer conversion, so absurd ratios cannot trap).
    public static func checkedShape(_ shape: GridShape, from old: Spacing, to new: Spacing,
                                    caseID: String) throws -> GridShape {
        let extents = (0..<3).map { (Double(shape[$0]) * old[axis: $0] / new[axis: $0]).rounded() }
        let voxels = extents.reduce(1) { $0 * max(1, $1) }
        guard voxels.isFinite, voxels <= Double(maxVoxels) else {
            throw DataError.invalidGeometry(
                caseID: caseID, field: "resampled shape",
                value: "\(extents.reversed().map { $0.isFinite ? String(Int64(min($0, 9e18))) : "\($0)" }) (x, y, z) "
                    + "from \(shape) at spacing \(old) to \(new)",
                allowed: "at most \(maxVoxels) voxels; check preprocessing.target_spacing")
        }
        return Self.shape(shape, from: old, to: new)
    }

    public static func shape(_ shape: GridShape, from old: Spacing, to new: Spacing) -> GridShape {
        var out = shape
        for a in 0..<3 {
            out[a] = max(1, Int((Double(shape[a]) * old[axis: a] / new[axis: a]).rounded()))
        }
        return out
    }

    /// Per-axis modes for image data. The thick axis is the unique axis of largest spacing of
    /// the current grid if it is anisotropic (max/min > threshold), else of the target grid;
    /// with no unique thick axis, or neither grid anisotropic, all axes are linear.
    public static func imageModes(current: Spacing, target: Spacing,
                                  threshold: Double = defaultAnisotropyThreshold) -> [InterpolationMode] {
        var modes = [InterpolationMode](repeating: .linear, count: 3)
        for s in [current, target] {
            let v = (0..<3).map { s[axis: $0] }
            guard let mx = v.max(), let mn = v.min(), mx / mn > threshold else { continue }
            let thick = (0..<3).filter { v[$0] == mx }
            if thick.count == 1 { modes[thick[0]] = .nearest }
            return modes
        }
        return modes
    }

    /// Resamples a C×`from` buffer to C×`to` with the given per-axis modes (axis 0 = d).
    public static func resample(_ data: [Float], channels: Int, from: GridShape, to: GridShape,
                                modes: [InterpolationMode]) -> [Float] {
        var cur = data, shape = from
        for axis in [2, 1, 0] where shape[axis] != to[axis] {
            var next = shape
            next[axis] = to[axis]
            cur = resampleAxis(cur, channels: channels, shape: shape, axis: axis, size: to[axis],
                               mode: modes[axis])
            shape = next
        }
        return cur
    }

    /// Nearest-neighbour resampling of a label map (same coordinate map as `resample`).
    public static func resampleLabels(_ labels: [UInt8], from: GridShape, to: GridShape) -> [UInt8] {
        let tables = (0..<3).map { a in nearestTable(from[a], to[a]) }
        var out = [UInt8](repeating: 0, count: to.count)
        var i = 0
        for z in 0..<to.d {
            for y in 0..<to.h {
                let row = from.index(tables[0][z], tables[1][y], 0)
                for x in 0..<to.w { out[i] = labels[row + tables[2][x]]; i += 1 }
            }
        }
        return out
    }

    /// Input coordinate sampled by output voxel o (before clamping).
    @inline(__always) static func sourceCoordinate(_ o: Int, _ nIn: Int, _ nOut: Int) -> Double {
        (Double(o) + 0.5) * Double(nIn) / Double(nOut) - 0.5
    }

    static func nearestTable(_ nIn: Int, _ nOut: Int) -> [Int] {
        (0..<nOut).map { o in
            min(nIn - 1, max(0, Int((sourceCoordinate(o, nIn, nOut) + 0.5).rounded(.down))))
        }
    }

    /// Linear weights: output o = (1 − t)·in[i0] + t·in[i1].
    static func linearTable(_ nIn: Int, _ nOut: Int) -> [(Int, Int, Float)] {
        (0..<nOut).map { o in
            let u = min(Double(nIn - 1), max(0, sourceCoordinate(o, nIn, nOut)))
            let i0 = Int(u.rounded(.down))
            let i1 = min(i0 + 1, nIn - 1)
            return (i0, i1, Float(u - Double(i0)))
        }
    }

    static func resampleAxis(_ data: [Float], channels: Int, shape: GridShape, axis: Int, size: Int,
                             mode: InterpolationMode) -> [Float] {
        var outShape = shape
        outShape[axis] = size
        // Strides of the resampled axis in input and output; lines run over the other axes.
        let strideIn = axis == 2 ? 1 : (axis == 1 ? shape.w : shape.w * shape.h)
        let strideOut = axis == 2 ? 1 : (axis == 1 ? outShape.w : outShape.w * outShape.h)
        let outer = channels * (axis == 0 ? 1 : (axis == 1 ? shape.d : shape.d * shape.h))
        let inner = axis == 2 ? 1 : (axis == 1 ? shape.w : shape.w * shape.h)
        let blockIn = shape[axis] * strideIn, blockOut = size * strideOut
        var out = [Float](repeating: 0, count: channels * outShape.count)
        let nIn = shape[axis]
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if mode == .nearest {
                    let table = nearestTable(nIn, size)
                    for b in 0..<outer {
                        for o in 0..<size {
                            let si = b * blockIn + table[o] * strideIn, di = b * blockOut + o * strideOut
                            for k in 0..<inner { dst[di + k] = src[si + k] }
                        }
                    }
                } else {
                    let table = linearTable(nIn, size)
                    for b in 0..<outer {
                        for o in 0..<size {
                            let (i0, i1, t) = table[o]
                            let s0 = b * blockIn + i0 * strideIn, s1 = b * blockIn + i1 * strideIn
                            let di = b * blockOut + o * strideOut
                            for k in 0..<inner { dst[di + k] = src[s0 + k] + t * (src[s1 + k] - src[s0 + k]) }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Affine of the resampled grid: step n_in/n_out input voxels, voxel 0 at input coordinate
    /// (step − 1)/2 per axis (the pixel-centre map above).
    public static func affine(_ a: [[Double]], from: GridShape, to: GridShape) -> [[Double]] {
        // NIfTI order: i = w (axis 2), j = h (axis 1), k = d (axis 0).
        let step = [2, 1, 0].map { Double(from[$0]) / Double(to[$0]) }
        return Affine.subgrid(a, offset: step.map { ($0 - 1) / 2 }, step: step)
    }
}
