/// Instance normalisation with affine parameters (PyTorch InstanceNorm3d(affine=True)):
/// per sample n and channel c over the V = D·H·W voxels,
///   μ = mean(x), σ² = mean((x − μ)²) (biased), x̂ = (x − μ)/√(σ² + eps), y = γ_c·x̂ + β_c.
/// Statistics are kept (mean, rstd = 1/√(σ² + eps), [N·C] each) for the backward pass, which
/// recomputes x̂ from x instead of storing it.
public enum InstanceNorm3d {
    /// PyTorch's default eps for InstanceNorm3d, also nnU-Net's.
    public static let defaultEps: Float = 1e-5

    /// Mean and rstd of each [V] row of x [N·C, V] (two passes, Double accumulation).
    static func statistics(x: UnsafePointer<Float>, rows: Int, voxels: Int, eps: Float,
                           mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, threads: Int) {
        Parallel.forEach(0..<rows, threads: threads) { rs in
            for r in rs {
                let p = x + r * voxels
                let m = Reduce.sum(p, count: voxels) / Double(voxels)
                let mf = Float(m)
                var acc = 0.0, i = 0
                while i < voxels {
                    let e = min(voxels, i + Reduce.block)
                    var s: Float = 0
                    for j in i..<e { let d = p[j] - mf; s += d * d }
                    acc += Double(s)
                    i = e
                }
                let variance = acc / Double(voxels)
                mean[r] = mf
                rstd[r] = Float(1 / (variance + Double(eps)).squareRoot())
            }
        }
    }

    /// x [N, C, V] → y [N, C, V] (y may alias x). Writes mean, rstd [N·C].
    public static func forward(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                               y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, batch: Int, channels: Int, voxels: Int,
                               eps: Float = defaultEps, threads: Int = Parallel.defaultThreads) {
        statistics(x: x, rows: batch * channels, voxels: voxels, eps: eps, mean: mean, rstd: rstd, threads: threads)
        Parallel.forEach(0..<(batch * channels), threads: threads) { rs in
            for r in rs {
                let c = r % channels
                let scale = gamma[c] * rstd[r], shift = beta[c] - mean[r] * scale
                let p = x + r * voxels, q = y + r * voxels
                for i in 0..<voxels { q[i] = p[i] * scale + shift }
            }
        }
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
        NormActivationBackward.run(x: x, gamma: gamma, mean: mean, rstd: rstd, activation: nil, slope: 1,
                                   dOut: dy, dx: dx, dgamma: dgamma, dbeta: dbeta,
                                   batch: batch, channels: channels, voxels: voxels, threads: threads)
    }
}

/// The shared backward of instance norm, optionally followed by leaky ReLU.
enum NormActivationBackward {
    /// activation = the leaky ReLU output a (its sign gives the mask, since slope > 0) or nil for
    /// a bare norm. Parallel over channels so dgamma/dbeta accumulate without races.
    static func run(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                    rstd: UnsafePointer<Float>, activation: UnsafePointer<Float>?, slope: Float,
                    dOut: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                    dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>,
                    batch: Int, channels: Int, voxels: Int, threads: Int) {
        let work = batch * channels
        // Per (n, c) sums first (parallel over rows), then γ/β gradients per channel.
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: 2 * work)
        defer { sums.deallocate() }
        Parallel.forEach(0..<work, threads: threads) { rs in
            for r in rs {
                let m = mean[r], s = rstd[r]
                let xp = x + r * voxels, gp = dOut + r * voxels
                let ap = activation.map { $0 + r * voxels }
                var sg = 0.0, sgx = 0.0, i = 0
                while i < voxels {
                    let e = min(voxels, i + Reduce.block)
                    var bg: Float = 0, bgx: Float = 0
                    if let ap {
                        for j in i..<e {
                            let g = ap[j] > 0 ? gp[j] : gp[j] * slope
                            bg += g; bgx += g * (xp[j] - m) * s
                        }
                    } else {
                        for j in i..<e { let g = gp[j]; bg += g; bgx += g * (xp[j] - m) * s }
                    }
                    sg += Double(bg); sgx += Double(bgx)
                    i = e
                }
                sums[2 * r] = sg
                sums[2 * r + 1] = sgx
                // dx = rstd·γ·(g − Σg/V − x̂·Σg·x̂/V)
                let c = r % channels
                let k = gamma[c] * s
                let mg = Float(sg / Double(voxels)), mgx = Float(sgx / Double(voxels))
                let dp = dx + r * voxels
                if let ap {
                    for j in 0..<voxels {
                        let g = ap[j] > 0 ? gp[j] : gp[j] * slope
                        dp[j] = k * (g - mg - (xp[j] - m) * s * mgx)
                    }
                } else {
                    for j in 0..<voxels { dp[j] = k * (gp[j] - mg - (xp[j] - m) * s * mgx) }
                }
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
