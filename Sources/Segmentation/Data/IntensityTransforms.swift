// Intensity augmentations on one channel of a patch (D×H×W Float, z-scored), as
// batchgeneratorsv2 defines them. Each is a pure function of its parameters; drawing the
// parameters is `Augmenter`'s job.

import Foundation

/// Lower bound on a range or standard deviation before dividing (batchgeneratorsv2's 1e-7 clamp).
let intensityEpsilon: Float = 1e-7
/// Gaussian kernels are truncated at this many σ (covers 99.7 % of the mass).
let gaussianTruncation = 3.0

public enum IntensityTransforms {
    /// x ← x · factor (`MultiplicativeBrightnessTransform`).
    public static func multiply(_ x: inout ArraySlice<Float>, by factor: Float) {
        for i in x.indices { x[i] *= factor }
    }

    /// x ← (x − mean)·factor + mean, then clipped to the original [min, max]
    /// (`ContrastTransform` with preserve_range).
    public static func contrast(_ x: inout ArraySlice<Float>, factor: Float) {
        guard !x.isEmpty else { return }
        var sum = 0.0, lo = Float.infinity, hi = -Float.infinity
        for v in x { sum += Double(v); lo = min(lo, v); hi = max(hi, v) }
        let mean = Float(sum / Double(x.count))
        for i in x.indices { x[i] = min(hi, max(lo, (x[i] - mean) * factor + mean)) }
    }

    /// Gamma on the range-normalised channel, mean and standard deviation then restored
    /// (`GammaTransform`, p_retain_stats = 1): x ← ((x − min)/range)^γ · range + min. With
    /// `invert`, applied to −x and negated back.
    public static func gamma(_ x: inout ArraySlice<Float>, gamma g: Float, invert: Bool) {
        guard !x.isEmpty else { return }
        let sign: Float = invert ? -1 : 1
        func stats() -> (mean: Float, std: Float, lo: Float, hi: Float) {
            var s = 0.0, ss = 0.0, lo = Float.infinity, hi = -Float.infinity
            for v0 in x { let v = sign * v0; s += Double(v); ss += Double(v) * Double(v); lo = min(lo, v); hi = max(hi, v) }
            let m = s / Double(x.count)
            return (Float(m), Float(max(0, ss / Double(x.count) - m * m).squareRoot()), lo, hi)
        }
        let before = stats()
        let range = max(before.hi - before.lo, intensityEpsilon)
        for i in x.indices {
            x[i] = sign * (powf((sign * x[i] - before.lo) / range, g) * range + before.lo)
        }
        let after = stats()
        let k = before.std / max(after.std, intensityEpsilon)
        for i in x.indices { x[i] = sign * ((sign * x[i] - after.mean) * k + before.mean) }
    }

    /// Separable Gaussian blur with σ (voxels) per axis d, h, w; edges replicated; σ = 0 skips
    /// the axis (`GaussianBlurTransform`).
    public static func blur(_ x: inout ArraySlice<Float>, shape: GridShape, sigma: [Double]) {
        var buf = Array(x)
        var tmp = buf
        for axis in 0..<3 where sigma[axis] > 0 {
            let r = max(1, Int((gaussianTruncation * sigma[axis]).rounded(.up)))
            var kernel = (-r...r).map { Float(exp(-0.5 * Double($0 * $0) / (sigma[axis] * sigma[axis]))) }
            let total = kernel.reduce(0, +)
            for i in kernel.indices { kernel[i] /= total }
            let n = shape[axis]
            let stride = axis == 2 ? 1 : (axis == 1 ? shape.w : shape.w * shape.h)
            buf.withUnsafeBufferPointer { src in
                tmp.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<src.count {
                        let k = (i / stride) % n
                        let lineStart = i - k * stride
                        var acc: Float = 0
                        for j in -r...r {
                            let kk = min(n - 1, max(0, k + j))
                            acc += kernel[j + r] * src[lineStart + kk * stride]
                        }
                        dst[i] = acc
                    }
                }
            }
            swap(&buf, &tmp)
        }
        x.replaceSubrange(x.indices, with: buf)
    }

    /// Reverses the voxel order along `axis` (0 = d, 1 = h, 2 = w) of a D×H×W block.
    public static func flip<T>(_ x: inout ArraySlice<T>, shape: GridShape, axis: Int) {
        let n = shape[axis]
        let stride = axis == 2 ? 1 : (axis == 1 ? shape.w : shape.w * shape.h)
        let start = x.startIndex
        for i in 0..<shape.count where (i / stride) % n < n / 2 {
            let k = (i / stride) % n
            x.swapAt(start + i, start + i + (n - 1 - 2 * k) * stride)
        }
    }
}
