/// Instance norm followed by leaky ReLU in one pass over the data (the U-Net's conv block tail):
/// a = LeakyReLU(γ·x̂ + β). The backward needs only x (the conv output), the statistics and a.
public enum InstanceNormLeakyReLU {
    /// x [N, C, V] → a [N, C, V] (a may alias x only if x is not needed for backward).
    public static func forward(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                               y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, batch: Int, channels: Int, voxels: Int,
                               eps: Float = InstanceNorm3d.defaultEps, slope: Float = LeakyReLU.defaultSlope,
                               threads: Int = Parallel.defaultThreads) {
        InstanceNorm3d.statistics(x: x, rows: batch * channels, voxels: voxels, eps: eps,
                                  mean: mean, rstd: rstd, threads: threads)
        apply(x: x, gamma: gamma, beta: beta, y: y, mean: UnsafePointer(mean), rstd: UnsafePointer(rstd),
              batch: batch, channels: channels, voxels: voxels, slope: slope, threads: threads)
    }

    /// The forward given statistics already computed (e.g. by `WinogradConv3d.forward(…statistics:)`):
    /// a = LeakyReLU(γ·(x − mean)·rstd + β).
    public static func apply(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                             y: UnsafeMutablePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                             batch: Int, channels: Int, voxels: Int, slope: Float = LeakyReLU.defaultSlope,
                             threads: Int = Parallel.defaultThreads) {
        Parallel.forEach(0..<(batch * channels), threads: threads) { rs in
            for r in rs {
                let c = r % channels
                let scale = gamma[c] * rstd[r], shift = beta[c] - mean[r] * scale
                NormRowKernels.affineLeaky(x + r * voxels, y + r * voxels, count: voxels,
                                           scale: scale, shift: shift, slope: slope)
            }
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
        NormActivationBackward.run(x: x, gamma: gamma, mean: mean, rstd: rstd, activation: output, slope: slope,
                                   dOut: dOutput, dx: dx, dgamma: dgamma, dbeta: dbeta,
                                   batch: batch, channels: channels, voxels: voxels, threads: threads)
    }
}
