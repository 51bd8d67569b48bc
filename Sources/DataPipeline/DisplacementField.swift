// Smooth random displacement field for elastic deformation.
//
// batchgeneratorsv2 draws N(0, 1) noise on the patch grid, filters it with a Gaussian of σ
// voxels (FFT) and rescales each component so its largest |value| is the wanted magnitude.
// Filtering a full-resolution field with σ up to 0.2·64 ≈ 13 voxels costs more than the rest of
// the augmentation, so here the noise lives on a coarse control grid of step σ, is smoothed there
// with a [1, 2, 1]/4 kernel per axis, and is interpolated trilinearly to every voxel: a field with
// the same correlation length, at a few per cent of the cost. The rescaling is the same.

/// Smallest σ (voxels) used: batchgeneratorsv2 allows σ → 0, which turns the "deformation" into
/// independent per-voxel jitter; 2 voxels keeps the field a deformation.
let minimumElasticSigma = 2.0

public struct DisplacementField: Sendable {
    public let size: GridShape
    /// Displacement in voxels along d, h, w; each D×H×W.
    public let components: [[Float]]

    /// Random field: smoothness σ_a (voxels) and maximum |displacement| m_a (voxels) per axis a.
    public init(size: GridShape, sigma: [Double], magnitude: [Double],
                using rng: inout some RandomNumberGenerator) {
        self.size = size
        var comps = [[Float]]()
        let step = (0..<3).map { max(minimumElasticSigma, sigma[$0]) }
        // Control grid: covers the patch plus one step of margin on each side.
        let g = GridShape(d: Int((Double(size.d) / step[0]).rounded(.up)) + 3,
                          h: Int((Double(size.h) / step[1]).rounded(.up)) + 3,
                          w: Int((Double(size.w) / step[2]).rounded(.up)) + 3)
        for a in 0..<3 {
            var coarse = [Float](repeating: 0, count: g.count)
            rng.fillNormal(&coarse, sigma: 1)
            coarse = DisplacementField.binomialSmooth(coarse, shape: g)
            var full = DisplacementField.interpolate(coarse, grid: g, step: step, to: size)
            let peak = full.reduce(Float(0)) { max($0, abs($1)) }
            let scale = peak > 0 ? Float(magnitude[a]) / peak : 0
            for i in full.indices { full[i] *= scale }
            comps.append(full)
        }
        components = comps
    }

    /// [1, 2, 1]/4 along each axis, edges replicated.
    static func binomialSmooth(_ v: [Float], shape: GridShape) -> [Float] {
        var cur = v
        for axis in 0..<3 {
            let n = shape[axis]
            guard n > 2 else { continue }
            let stride = axis == 2 ? 1 : (axis == 1 ? shape.w : shape.w * shape.h)
            var next = cur
            for i in 0..<cur.count {
                let k = (i / stride) % n
                let a = cur[k > 0 ? i - stride : i], b = cur[k < n - 1 ? i + stride : i]
                next[i] = 0.25 * a + 0.5 * cur[i] + 0.25 * b
            }
            cur = next
        }
        return cur
    }

    /// Trilinear interpolation: voxel p of the patch sits at control coordinate p/step + 1.
    static func interpolate(_ c: [Float], grid g: GridShape, step: [Double], to size: GridShape) -> [Float] {
        func table(_ n: Int, _ s: Double) -> [(Int, Float)] {
            (0..<n).map { p in
                let u = Double(p) / s + 1
                let i = Int(u.rounded(.down))
                return (i, Float(u - Double(i)))
            }
        }
        let tz = table(size.d, step[0]), ty = table(size.h, step[1]), tx = table(size.w, step[2])
        var out = [Float](repeating: 0, count: size.count)
        let gw = g.w, gs = g.w * g.h
        c.withUnsafeBufferPointer { c in
            out.withUnsafeMutableBufferPointer { out in
                var o = 0
                for z in 0..<size.d {
                    let (iz, fz) = tz[z]
                    for y in 0..<size.h {
                        let (iy, fy) = ty[y]
                        let row = iz * gs + iy * gw
                        for x in 0..<size.w {
                            let (ix, fx) = tx[x]
                            let b = row + ix, b1 = b + gs
                            let c00 = c[b] + fx * (c[b + 1] - c[b])
                            let c01 = c[b + gw] + fx * (c[b + gw + 1] - c[b + gw])
                            let c10 = c[b1] + fx * (c[b1 + 1] - c[b1])
                            let c11 = c[b1 + gw] + fx * (c[b1 + gw + 1] - c[b1 + gw])
                            let c0 = c00 + fy * (c01 - c00), c1 = c10 + fy * (c11 - c10)
                            out[o] = c0 + fz * (c1 - c0)
                            o += 1
                        }
                    }
                }
            }
        }
        return out
    }
}
