/// Where a Winograd forward writes the instance-norm statistics of its output (per sample and
/// output channel, [N·Cout] each, as `InstanceNorm3d.statistics` writes them): mean and
/// rstd = 1/√(σ² + eps), σ² the biased variance.
public struct WinogradNormStatistics {
    public var mean: UnsafeMutablePointer<Float>
    public var rstd: UnsafeMutablePointer<Float>
    public var eps: Float

    public init(mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, eps: Float) {
        self.mean = mean; self.rstd = rstd; self.eps = eps
    }
}

/// Instance-norm statistics gathered in the Winograd output stage: right after the output
/// transform of a tile row (2 × 2 output lines of W voxels of one channel, still in L1) the row's
/// mean and Σ(x − mean)² are computed there in one pass (`record`) and stored per (row, channel)
/// in Double. `finish` merges the rows of each
/// (sample, channel) in row order with Chan et al.'s pairwise update: the same arithmetic whichever
/// worker ran which chunk, so the result does not depend on the thread count or timing. This
/// replaces the separate pass over the whole conv output that `InstanceNorm3d.statistics` makes.
struct WinogradOutputStatistics {
    let plan: WinogradPlan
    let channels: Int
    /// (mean, m2) per (row, channel): partials[2·(row·channels + c)].
    let partials: UnsafeMutablePointer<Double>

    /// Doubles of partial storage for a plan and channel count.
    static func doubles(plan: WinogradPlan, channels: Int) -> Int { 2 * plan.rows * channels }

    /// Voxels of a row inside the volume.
    @inline(__always)
    func voxels(row: Int) -> Int {
        let (_, td, th) = plan.decode(row: row)
        return min(2, plan.d - 2 * td) * min(2, plan.h - 2 * th) * plan.w
    }

    /// Records row `row` of channel `c`, whose output plane (one sample, one channel) is `plane`.
    /// One pass: Σ(x − c) and Σ(x − c)² in 8 Float lanes around the row's first voxel c (a value
    /// of the data, so the deviations are of the order of the spread and Σ(x − c)² − (Σ(x − c))²/len,
    /// taken in Double, does not cancel the way Σx² − (Σx)²/len would far from zero).
    @inline(__always)
    func record(row: Int, channel c: Int, plane: UnsafePointer<Float>) {
        let (_, td, th) = plan.decode(row: row)
        let z0 = 2 * td, y0 = 2 * th, w = plan.w, h = plan.h
        let nz = min(2, plan.d - z0), ny = min(2, h - y0)
        let shift = plane[(z0 * h + y0) * w]
        let sv = SIMD8<Float>(repeating: shift)
        var acc = SIMD8<Float>.zero, acc2 = SIMD8<Float>.zero
        var tail: Float = 0, tail2: Float = 0
        for a in 0..<nz {
            for b in 0..<ny {
                let p = plane + ((z0 + a) * h + y0 + b) * w
                var j = 0
                while j + 8 <= w { let d = loadEight(p + j) - sv; acc += d; acc2 += d * d; j += 8 }
                while j < w { let d = p[j] - shift; tail += d; tail2 += d * d; j += 1 }
            }
        }
        let lenD = Double(nz * ny * w)
        let sum = Double(acc.sum()) + Double(tail), squares = Double(acc2.sum()) + Double(tail2)
        let slot = partials + 2 * (row * channels + c)
        slot[0] = Double(shift) + sum / lenD
        slot[1] = max(0, squares - sum * sum / lenD)
    }

    /// Merges the rows of every (sample, channel) and writes mean and rstd.
    func finish(_ out: WinogradNormStatistics, threads: Int) {
        let rowsPerSample = plan.tilesD * plan.tilesH, channels = channels
        Parallel.forEach(count: plan.batch * channels, threads: threads) { r in
            let s = r / channels, c = r % channels
            var n = 0.0, mean = 0.0, m2 = 0.0
            for row in s * rowsPerSample ..< (s + 1) * rowsPerSample {
                let slot = partials + 2 * (row * channels + c)
                let len = Double(voxels(row: row)), total = n + len, delta = slot[0] - mean
                mean += delta * len / total
                m2 += slot[1] + delta * delta * n * len / total
                n = total
            }
            let variance = n > 0 ? m2 / n : 0
            out.mean[r] = Float(mean)
            out.rstd[r] = Float(1 / (variance + Double(out.eps)).squareRoot())
        }
    }
}
