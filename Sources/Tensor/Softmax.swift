import Foundation

/// Softmax over the channel axis of [N, C, V]: p[c, v] = exp(x[c, v] − m_v) / Σ_k exp(x[k, v] − m_v),
/// m_v = max_k x[k, v] (stable).
public enum ChannelSoftmax {
    /// Overwrites p (must not alias x).
    public static func forward(x: UnsafePointer<Float>, p: UnsafeMutablePointer<Float>,
                               batch: Int, channels: Int, voxels: Int, threads: Int = Parallel.defaultThreads) {
        for n in 0..<batch {
            let xs = x + n * channels * voxels, ps = p + n * channels * voxels
            Parallel.forEach(0..<voxels, threads: threads) { vs in
                for v in vs {
                    var m = xs[v]
                    for c in 1..<channels { m = max(m, xs[c * voxels + v]) }
                    var s: Float = 0
                    for c in 0..<channels { let e = expf(xs[c * voxels + v] - m); ps[c * voxels + v] = e; s += e }
                    let inv = 1 / s
                    for c in 0..<channels { ps[c * voxels + v] *= inv }
                }
            }
        }
    }

    /// dx = p ⊙ (dp − Σ_c p·dp) per voxel. dx OVERWRITTEN (may alias dp).
    public static func backward(p: UnsafePointer<Float>, dp: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                batch: Int, channels: Int, voxels: Int, threads: Int = Parallel.defaultThreads) {
        for n in 0..<batch {
            let o = n * channels * voxels
            let ps = p + o, gs = dp + o, ds = dx + o
            Parallel.forEach(0..<voxels, threads: threads) { vs in
                for v in vs {
                    var dot: Float = 0
                    for c in 0..<channels { dot += ps[c * voxels + v] * gs[c * voxels + v] }
                    for c in 0..<channels { ds[c * voxels + v] = ps[c * voxels + v] * (gs[c * voxels + v] - dot) }
                }
            }
        }
    }
}
