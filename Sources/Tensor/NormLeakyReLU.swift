/// Instance norm followed by leaky ReLU in one pass over the data (the U-Net's conv block tail):
/// a = LeakyReLU(γ·x̂ + β). The backward needs x (the conv output) and the statistics, and either
/// a or β (to recompute a's sign).
public enum InstanceNormLeakyReLU {
    /// x [N, C, V] → a [N, C, V] (a may alias x only if x is not needed for backward; sample n of a
    /// at y + n·ySampleStride, as in `apply`; `copy`, if given, receives a again as N contiguous
    /// [C, V] samples). Statistics and output in one pass over the rows
    /// (`InstanceNorm3d.statisticsAndApply`): bit for bit `InstanceNorm3d.statistics` then `apply`.
    public static func forward(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                               y: UnsafeMutablePointer<Float>, ySampleStride: Int? = nil,
                               copy: UnsafeMutablePointer<Float>? = nil,
                               mean: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, batch: Int, channels: Int, voxels: Int,
                               eps: Float = InstanceNorm3d.defaultEps, slope: Float = LeakyReLU.defaultSlope,
                               threads: Int = Parallel.defaultThreads) {
        if InstanceNorm3d.separatePasses {
            InstanceNorm3d.statistics(x: x, rows: batch * channels, voxels: voxels, eps: eps, mean: mean, rstd: rstd,
                                      threads: threads)
            apply(x: x, gamma: gamma, beta: beta, mean: mean, rstd: rstd, y: y, ySampleStride: ySampleStride, copy: copy,
                  batch: batch, channels: channels, voxels: voxels, slope: slope, threads: threads)
            return
        }
        InstanceNorm3d.statisticsAndApply(x: x, gamma: gamma, beta: beta, y: y, yStride: ySampleStride ?? channels * voxels,
                                          copy: copy, mean: mean, rstd: rstd, batch: batch, channels: channels,
                                          voxels: voxels, eps: eps, slope: slope, threads: threads)
    }

    /// a = LeakyReLU(γ·(x − mean)·rstd + β) from statistics `forward` wrote: the second half of
    /// `forward`, bit for bit its output — recomputes an activation that was not kept. y holds
    /// sample n at y + n·ySampleStride (default C·V; larger: y is the first or last channels of a
    /// wider tensor, e.g. a concat buffer); `copy`, if given, receives the same values as N
    /// contiguous [C, V] samples.
    public static func apply(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                             mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                             y: UnsafeMutablePointer<Float>, ySampleStride: Int? = nil,
                             copy: UnsafeMutablePointer<Float>? = nil,
                             batch: Int, channels: Int, voxels: Int,
                             slope: Float = LeakyReLU.defaultSlope, threads: Int = Parallel.defaultThreads) {
        let yStride = ySampleStride ?? channels * voxels
        Parallel.forEach(0..<(batch * channels), threads: threads) { rs in
            for r in rs {
                applyRow(r, x: x, gamma: gamma, beta: beta, mean: mean[r], rstd: rstd[r], y: y, yStride: yStride,
                         copy: copy, channels: channels, voxels: voxels, slope: slope)
            }
        }
    }

    /// The per-row constants of `applyRow` (the same Float expressions): a[r] =
    /// LeakyReLU(x·scale[r] + shift[r]) for rows r = n·C + c.
    public static func rowConstants(gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, batch: Int, channels: Int,
                                    scale: UnsafeMutablePointer<Float>, shift: UnsafeMutablePointer<Float>) {
        for r in 0..<(batch * channels) {
            let c = r % channels
            let sc = gamma[c] * rstd[r]
            scale[r] = sc
            shift[r] = beta[c] - mean[r] * sc
        }
    }

    /// Row r = (n, c) of `apply` (and of `InstanceNorm3d.statisticsAndApply`, which computes the
    /// row's statistics first): y[n, c] = LeakyReLU(γ_c·rstd·x + (β_c − mean·γ_c·rstd)), also into
    /// `copy` at row r if given.
    @inline(__always)
    static func applyRow(_ r: Int, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                         mean: Float, rstd: Float, y: UnsafeMutablePointer<Float>, yStride: Int,
                         copy: UnsafeMutablePointer<Float>?, channels: Int, voxels: Int, slope: Float) {
        let n = r / channels, c = r % channels
        let scale = gamma[c] * rstd, shift = beta[c] - mean * scale
        if let copy {
            NormRowKernels.affineLeaky(x + r * voxels, y + n * yStride + c * voxels, copy + r * voxels,
                                       count: voxels, scale: scale, shift: shift, slope: slope)
        } else {
            NormRowKernels.affineLeaky(x + r * voxels, y + n * yStride + c * voxels, count: voxels,
                                       scale: scale, shift: shift, slope: slope)
        }
    }

    /// Gradients given x, statistics and the output a. dx OVERWRITTEN (may alias da);
    /// dgamma, dbeta ACCUMULATED.
    public static func backward(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                output: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>,
                                dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>,
                                batch: Int, channels: Int, voxels: Int,
                                slope: Float = LeakyReLU.defaultSlope, threads: Int = Parallel.defaultThreads) {
        NormActivationBackward.run(x: x, gamma: gamma, mean: mean, rstd: rstd, activation: .output(output), slope: slope,
                                   dOut: dOutput, dx: dx, dgamma: dgamma, dbeta: dbeta,
                                   batch: batch, channels: channels, voxels: voxels, threads: threads)
    }

    /// The same gradients without the output a: the leaky ReLU mask is recomputed from x, γ, β and
    /// the statistics with `forward`'s expressions (same mask, same results bit for bit), so a
    /// training pass may keep x = the conv output and drop a. dx OVERWRITTEN (may alias dOutput);
    /// dgamma, dbeta ACCUMULATED.
    public static func backward(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                dOutput: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>,
                                batch: Int, channels: Int, voxels: Int,
                                slope: Float = LeakyReLU.defaultSlope, threads: Int = Parallel.defaultThreads) {
        NormActivationBackward.run(x: x, gamma: gamma, mean: mean, rstd: rstd, activation: .recomputed(beta: beta),
                                   slope: slope, dOut: dOutput, dx: dx, dgamma: dgamma, dbeta: dbeta,
                                   batch: batch, channels: channels, voxels: voxels, threads: threads)
    }
}
