// Intensity augmentations on one channel of a patch (D×H×W Float, z-scored), as
// batchgeneratorsv2 defines them. Each is a pure function of its parameters; drawing the
// parameters is `Augmenter`'s job.

import Foundation

/// Lower bound on a range or standard deviation before dividing (batchgeneratorsv2's 1e-7 clamp).
let intensityEpsilon: Float = 1e-7
/// batchgeneratorsv2's `blur_dimension(truncate = 6)`: the kernel has the odd size nearest to
/// 6σ + ½ (Python rounding), i.e. it reaches about ±3σ.
let gaussianTruncation = 6.0

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
        x.withUnsafeMutableBufferPointer { v in
            // Work on y = sign·x in place; negate back at the end.
            if invert { for i in 0..<v.count { v[i] = -v[i] } }
            let before = moments(v)
            let range = max(before.hi - before.lo, intensityEpsilon)
            let inv = 1 / range
            for i in 0..<v.count { v[i] = powf((v[i] - before.lo) * inv, g) * range + before.lo }
            let after = moments(v)
            let k = before.std / max(after.std, intensityEpsilon)
            for i in 0..<v.count { v[i] = sign * ((v[i] - after.mean) * k + before.mean) }
        }
    }

    /// Mean, population standard deviation, min and max (sums in Double).
    static func moments(_ v: UnsafeMutableBufferPointer<Float>) -> (mean: Float, std: Float, lo: Float, hi: Float) {
        var s = 0.0, ss = 0.0, lo = Float.infinity, hi = -Float.infinity
        for x in v { let d = Double(x); s += d; ss += d * d; lo = min(lo, x); hi = max(hi, x) }
        let m = s / Double(v.count)
        return (Float(m), Float(max(0, ss / Double(v.count) - m * m).squareRoot()), lo, hi)
    }

    /// Separable Gaussian blur with σ (voxels) per axis d, h, w; σ = 0 skips the axis
    /// (`GaussianBlurTransform`): kernel size `gaussianKernelSize`, borders padded by reflection
    /// (torch's pad mode "reflect": … c b | a b c | b a …).
    public static func blur(_ x: inout ArraySlice<Float>, shape: GridShape, sigma: [Double]) {
        var buf = Array(x)
        for axis in 0..<3 where sigma[axis] > 0 {
            let r = (gaussianKernelSize(sigma: sigma[axis]) - 1) / 2
            var kernel = (-r...r).map { Float(exp(-0.5 * Double($0 * $0) / (sigma[axis] * sigma[axis]))) }
            let total = kernel.reduce(0, +)
            for i in kernel.indices { kernel[i] /= total }
            let n = shape[axis]
            let stride = axis == 2 ? 1 : (axis == 1 ? shape.w : shape.w * shape.h)
            let lines = shape.count / n
            var line = [Float](repeating: 0, count: n + 2 * r)
            buf.withUnsafeMutableBufferPointer { v in
                line.withUnsafeMutableBufferPointer { l in
                    kernel.withUnsafeBufferPointer { k in
                        for li in 0..<lines {
                            // Line start: lines run over the other two axes.
                            let start = stride == 1 ? li * n : (li / stride) * stride * n + li % stride
                            for j in 0..<n { l[r + j] = v[start + j * stride] }
                            for j in 1...max(1, r) where j <= r {
                                l[r - j] = l[r + reflect(j, n)]
                                l[r + n - 1 + j] = l[r + reflect(n - 1 + j, n)]
                            }
                            for j in 0..<n {
                                var acc: Float = 0
                                for t in 0...(2 * r) { acc += k[t] * l[j + t] }
                                v[start + j * stride] = acc
                            }
                        }
                    }
                }
            }
        }
        x.replaceSubrange(x.indices, with: buf)
    }

    /// Odd kernel size nearest to truncate·σ + ½ (batchgeneratorsv2 `_compute_kernel_size`;
    /// Python's round, ties to even).
    public static func gaussianKernelSize(sigma: Double) -> Int {
        let n = gaussianTruncation * sigma + 0.5
        let r = Int(n.rounded(.toNearestOrEven))
        if r % 2 == 1 { return r }
        return max(1, n - Double(r) >= 0 ? r + 1 : r - 1)
    }

    /// Index i (possibly outside 0..<n) reflected into the line without repeating the edge voxel.
    @inline(__always) static func reflect(_ i: Int, _ n: Int) -> Int {
        guard n > 1 else { return 0 }
        let period = 2 * (n - 1)
        var k = i % period
        if k < 0 { k += period }
        return k < n ? k : period - k
    }

    /// Downsamples to round(n · zoom) voxels per axis with nearest neighbour, then back to the
    /// original shape with trilinear interpolation (pixel centres aligned, as torch's
    /// `interpolate` 'nearest-exact' and 'trilinear' without align_corners).
    public static func simulateLowResolution(_ x: inout ArraySlice<Float>, shape: GridShape, zoom: Double) {
        var small = shape
        for a in 0..<3 { small[a] = max(1, Int((Double(shape[a]) * zoom).rounded())) }
        guard small != shape else { return }
        let down = Resampler.resample(Array(x), channels: 1, from: shape, to: small,
                                      modes: [.nearest, .nearest, .nearest])
        let up = Resampler.resample(down, channels: 1, from: small, to: shape, modes: [.linear, .linear, .linear])
        x.replaceSubrange(x.indices, with: up)
    }

    /// Reverses the voxel order along `axis` (0 = d, 1 = h, 2 = w) of a D×H×W block.
    public static func flip<T>(_ x: inout ArraySlice<T>, shape: GridShape, axis: Int) {
        let n = shape[axis]
        let inner = axis == 2 ? 1 : (axis == 1 ? shape.w : shape.w * shape.h)   // run length
        let outer = shape.count / (n * inner)
        x.withUnsafeMutableBufferPointer { v in
            for o in 0..<outer {
                let base = o * n * inner
                for k in 0..<(n / 2) {
                    let a = base + k * inner, b = base + (n - 1 - k) * inner
                    for j in 0..<inner { v.swapAt(a + j, b + j) }
                }
            }
        }
    }
}
