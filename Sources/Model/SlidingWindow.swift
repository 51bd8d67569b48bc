import Config
import Foundation
import Tensor

/// Sliding-window inference as nnU-Net: windows of `patch` voxels whose start positions are spread
/// evenly with a step of at most (1 − overlap)·patch, each window's logits weighted by a Gaussian
/// (σ = sigmaScale·patch, centred at patch/2, normalised to a maximum of 1) and the weighted sum
/// divided by the summed weights.
public struct SlidingWindow: Sendable {
    public var patch: [Int]
    /// Fraction of a patch shared by neighbouring windows (nnU-Net: 0.5).
    public var overlap: Double
    /// σ as a fraction of the patch size (nnU-Net: 1/8).
    public var sigmaScale: Double

    /// `inference.overlap` and `inference.gaussian_sigma_scale`'s defaults (Config).
    public static let defaultOverlap = InferenceConfig().overlap
    public static let defaultSigmaScale = InferenceConfig().gaussianSigmaScale

    public init(patch: [Int], overlap: Double = defaultOverlap, sigmaScale: Double = defaultSigmaScale) {
        self.patch = patch; self.overlap = overlap; self.sigmaScale = sigmaScale
    }

    /// Start positions along one axis (nnU-Net's compute_steps_for_sliding_window):
    /// n = ⌈(size − patch)/(patch·(1 − overlap))⌉ + 1 windows, spread evenly, first at 0, last at size − patch.
    public static func starts(size: Int, patch: Int, overlap: Double) -> [Int] {
        guard size > patch else { return [0] }
        let target = Double(patch) * (1 - overlap)
        let n = Int((Double(size - patch) / target).rounded(.up)) + 1
        let step = Double(size - patch) / Double(n - 1)
        return (0..<n).map { Int((step * Double($0)).rounded()) }
    }

    /// Gaussian weights [patch D·H·W], max 1.
    public func gaussian() -> [Float] {
        let axes = patch.map { p -> [Double] in
            let sigma = sigmaScale * Double(p), c = Double(p / 2)
            return (0..<p).map { exp(-(Double($0) - c) * (Double($0) - c) / (2 * sigma * sigma)) }
        }
        var w = [Float](repeating: 0, count: patch.reduce(1, *)), i = 0
        for a in axes[0] { for b in axes[1] { for c in axes[2] { w[i] = Float(a * b * c); i += 1 } } }
        return w
    }

    /// Weighted-average logits [classes, D, H, W] of `model` over `volume` [inChannels, D, H, W].
    public func logits(volume: UnsafePointer<Float>, spatial: [Int], model: UNet3D) throws -> [Float] {
        try logits(volume: volume, spatial: spatial, inChannels: model.options.inChannels,
                   classes: model.options.classes, batch: 1) { windows, count, out in
            try model.predict(windows, batch: count, spatial: patch, into: out)
        }
    }

    /// Window positions in visiting order (z, then y, then x), each [z0, y0, x0].
    public func windowStarts(spatial: [Int]) -> [[Int]] {
        var all: [[Int]] = []
        for z0 in Self.starts(size: spatial[0], patch: patch[0], overlap: overlap) {
            for y0 in Self.starts(size: spatial[1], patch: patch[1], overlap: overlap) {
                for x0 in Self.starts(size: spatial[2], patch: patch[2], overlap: overlap) { all.append([z0, y0, x0]) }
            }
        }
        return all
    }

    /// The same weighted average with any window predictor: `predict(windows, count, logits)`
    /// receives `count` ≤ `batch` windows [count, inChannels, patch] and writes their logits
    /// [count, classes, patch]. Memory: the accumulator [classes + 1, D, H, W] and one batch of
    /// windows in and out.
    public func logits(volume: UnsafePointer<Float>, spatial: [Int], inChannels cin: Int, classes: Int, batch: Int,
                       predict: (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) throws -> Void) throws -> [Float] {
        guard spatial.count == 3, zip(spatial, patch).allSatisfy({ $0 >= $1 }) else {
            throw UNet3DError.shape(what: "volume size for sliding window", found: "\(spatial)",
                                    allowed: "each axis ≥ the patch \(patch) (pad smaller volumes first)")
        }
        let (H, W) = (spatial[1], spatial[2]), (pd, ph, pw) = (patch[0], patch[1], patch[2])
        let pv = pd * ph * pw, vv = spatial.reduce(1, *), n = max(1, batch)
        let weights = gaussian()
        var sum = [Float](repeating: 0, count: classes * vv), norm = [Float](repeating: 0, count: vv)
        var window = [Float](repeating: 0, count: n * cin * pv), out = [Float](repeating: 0, count: n * classes * pv)
        let positions = windowStarts(spatial: spatial)
        for first in stride(from: 0, to: positions.count, by: n) {
            let group = positions[first..<min(first + n, positions.count)]
            for (b, p) in group.enumerated() {
                for c in 0..<cin { for z in 0..<pd { for y in 0..<ph {
                    let src = volume + c * vv + ((p[0] + z) * H + (p[1] + y)) * W + p[2]
                    let dst = ((b * cin + c) * pd + z) * ph * pw + y * pw
                    for x in 0..<pw { window[dst + x] = src[x] }
                }}}
            }
            try window.withUnsafeBufferPointer { w in
                try out.withUnsafeMutableBufferPointer { try predict(w.baseAddress!, group.count, $0.baseAddress!) }
            }
            for (b, p) in group.enumerated() {
                for z in 0..<pd { for y in 0..<ph {
                    let row = ((p[0] + z) * H + (p[1] + y)) * W + p[2], prow = (z * ph + y) * pw
                    for x in 0..<pw {
                        let w = weights[prow + x]
                        norm[row + x] += w
                        for c in 0..<classes { sum[c * vv + row + x] += w * out[(b * classes + c) * pv + prow + x] }
                    }
                }}
            }
        }
        for c in 0..<classes { for i in 0..<vv { sum[c * vv + i] /= norm[i] } }
        return sum
    }
}
