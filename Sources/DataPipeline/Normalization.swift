// Per-channel z-score normalisation inside a mask (nnU-Net's `ZScoreNormalization` with
// `use_mask_for_norm`): x ← (x − μ) / max(σ, ε) inside the mask, 0 outside; μ, σ computed over
// the mask in Double (population standard deviation, numpy's default ddof = 0).

/// nnU-Net's lower bound on σ (`max(std, 1e-8)`), so a constant channel does not divide by 0.
let zScoreMinimumStd = 1e-8

public enum Normalization {
    /// Normalises every channel of a C×D×H×W buffer over `mask` (all voxels when nil).
    /// Returns the new buffer and the statistics used. An empty mask gives μ = 0, σ = 1.
    public static func zScore(_ image: [Float], channels: Int, count n: Int,
                              mask: [Bool]?) -> (image: [Float], stats: [ChannelStats]) {
        var out = [Float](repeating: 0, count: image.count)
        var stats = [ChannelStats]()
        for c in 0..<channels {
            let base = c * n
            var sum = 0.0, m = 0
            for i in 0..<n where mask?[i] ?? true { sum += Double(image[base + i]); m += 1 }
            let mean = m > 0 ? sum / Double(m) : 0
            var ss = 0.0
            for i in 0..<n where mask?[i] ?? true {
                let d = Double(image[base + i]) - mean
                ss += d * d
            }
            let std = m > 0 ? (ss / Double(m)).squareRoot() : 1
            let scale = 1 / max(std, zScoreMinimumStd)
            for i in 0..<n where mask?[i] ?? true {
                out[base + i] = Float((Double(image[base + i]) - mean) * scale)
            }
            stats.append(ChannelStats(mean: mean, std: std))
        }
        return (out, stats)
    }
}
