#if canImport(Glibc)
import Glibc
#endif

/// Instance normalisation with affine parameters (PyTorch InstanceNorm3d(affine=True)):
/// per sample n and channel c over the V = D·H·W voxels,
///   μ = mean(x), σ² = mean((x − μ)²) (biased), x̂ = (x − μ)/√(σ² + eps), y = γ_c·x̂ + β_c.
/// Statistics are kept (mean, rstd = 1/√(σ² + eps), [N·C] each) for the backward pass, which
/// recomputes x̂ from x instead of storing it.
public enum InstanceNorm3d {
    /// PyTorch's default eps for InstanceNorm3d, also nnU-Net's.
    public static let defaultEps: Float = 1e-5

    /// Mean and rstd of each [V] row of x [N·C, V] (one pass over memory, Double merge of Float
    /// SIMD block sums: `NormRowKernels.meanVariance`).
    static func statistics(x: UnsafePointer<Float>, rows: Int, voxels: Int, eps: Float,
                           mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, threads: Int) {
        Parallel.forEach(0..<rows, threads: threads) { rs in
            for r in rs {
                let (m, variance) = NormRowKernels.meanVariance(x + r * voxels, count: voxels)
                mean[r] = Float(m)
                rstd[r] = Float(1 / (variance + Double(eps)).squareRoot())
            }
        }
    }

    /// Statistics and output row by row in one parallel region: each [V] row's statistics
    /// (`statistics`' expressions), then y = LeakyReLU(γ·(x − mean)·rstd + β) of that row
    /// (`InstanceNormLeakyReLU.apply`'s expressions; slope 1: bare norm) while the row is still in
    /// L2 — one read of x from memory instead of two, one wake-up of the workers instead of two,
    /// the same values bit for bit. y may alias x (each row is read before it is written). Sample
    /// n of y at y + n·yStride; `copy` (if given) receives the same values as N contiguous [C, V].
    static func statisticsAndApply(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                   y: UnsafeMutablePointer<Float>, yStride: Int, copy: UnsafeMutablePointer<Float>?,
                                   mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                                   batch: Int, channels: Int, voxels: Int, eps: Float, slope: Float, threads: Int) {
        Parallel.forEach(0..<(batch * channels), threads: threads) { rs in
            for r in rs {
                let (m, variance) = NormRowKernels.meanVariance(x + r * voxels, count: voxels)
                mean[r] = Float(m)
                rstd[r] = Float(1 / (variance + Double(eps)).squareRoot())
                InstanceNormLeakyReLU.applyRow(r, x: x, gamma: gamma, beta: beta, mean: mean[r], rstd: rstd[r], y: y,
                                               yStride: yStride, copy: copy, channels: channels, voxels: voxels,
                                               slope: slope)
            }
        }
    }

    /// DRO_NORM_FORWARD=separate: `InstanceNormLeakyReLU.forward` runs `statistics` over all rows,
    /// then `apply` (two parallel regions, the layout before `statisticsAndApply`; same values), for
    /// back-to-back measurements.
    static let separatePasses: Bool = {
        guard let v = getenv("DRO_NORM_FORWARD") else { return false }
        return String(cString: v) == "separate"
    }()

    /// x [N, C, V] → y [N, C, V] (y may alias x). Writes mean, rstd [N·C].
    public static func forward(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                               y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, batch: Int, channels: Int, voxels: Int,
                               eps: Float = defaultEps, threads: Int = Parallel.defaultThreads) {
        statisticsAndApply(x: x, gamma: gamma, beta: beta, y: y, yStride: channels * voxels, copy: nil,
                           mean: mean, rstd: rstd, batch: batch, channels: channels, voxels: voxels,
                           eps: eps, slope: 1, threads: threads)
    }

    /// Gradients of `forward`, given its input x and statistics. dx OVERWRITTEN (may alias dy);
    /// dgamma, dbeta [C] ACCUMULATED.
    ///   dx = rstd·(γ·dy − mean(γ·dy) − x̂·mean(γ·dy·x̂)).
    public static func backward(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>,
                                batch: Int, channels: Int, voxels: Int,
                                threads: Int = Parallel.defaultThreads) {
        NormActivationBackward.run(x: x, gamma: gamma, mean: mean, rstd: rstd, activation: .none, slope: 1,
                                   dOut: dy, dx: dx, dgamma: dgamma, dbeta: dbeta,
                                   batch: batch, channels: channels, voxels: voxels, threads: threads)
    }
}

/// The shared backward of instance norm, optionally followed by leaky ReLU.
enum NormActivationBackward {
    /// Where the leaky ReLU mask comes from.
    enum Activation {
        /// Bare norm.
        case none
        /// The stored leaky ReLU output a (its sign gives the mask, since slope > 0).
        case output(UnsafePointer<Float>)
        /// Recomputed from x, γ, β and the statistics (no stored output needed; same mask bit for bit).
        case recomputed(beta: UnsafePointer<Float>)
    }

    /// Parallel over rows; dgamma/dbeta summed per channel afterwards, so no races.
    static func run(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                    rstd: UnsafePointer<Float>, activation: Activation, slope: Float,
                    dOut: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                    dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>,
                    batch: Int, channels: Int, voxels: Int, threads: Int) {
        let work = batch * channels
        // Per (n, c) sums first (parallel over rows), then γ/β gradients per channel.
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: 2 * work)
        defer { sums.deallocate() }
        Parallel.forEach(0..<work, threads: threads) { rs in
            for r in rs {
                let m = mean[r], s = rstd[r], c = r % channels
                let xp = x + r * voxels, gp = dOut + r * voxels
                let mask: NormRowKernels.Mask
                switch activation {
                case .none: mask = .none
                case .output(let a): mask = .output(a + r * voxels)
                case .recomputed(let beta):
                    // The forward's expressions (InstanceNormLeakyReLU.forward / apply).
                    let scale = gamma[c] * rstd[r], shift = beta[c] - mean[r] * scale
                    mask = .affine(scale: scale, shift: shift)
                }
                let (sg, sgx) = NormRowKernels.gradientSums(x: xp, dOut: gp, mask: mask, slope: slope,
                                                            m: m, s: s, count: voxels)
                sums[2 * r] = sg
                sums[2 * r + 1] = sgx
                // dx = rstd·γ·(g − Σg/V − x̂·Σg·x̂/V)
                NormRowKernels.inputGradient(x: xp, dOut: gp, mask: mask, slope: slope, m: m, s: s,
                                             k: gamma[c] * s, mg: Float(sg / Double(voxels)),
                                             mgx: Float(sgx / Double(voxels)), dx: dx + r * voxels, count: voxels)
            }
        }
        for c in 0..<channels {
            var sb = 0.0, sgm = 0.0
            for n in 0..<batch { sb += sums[2 * (n * channels + c)]; sgm += sums[2 * (n * channels + c) + 1] }
            dbeta[c] += Float(sb)
            dgamma[c] += Float(sgm)
        }
    }
}
