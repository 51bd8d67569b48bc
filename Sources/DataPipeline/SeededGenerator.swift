// A small seeded generator and the random draws the data pipeline needs.

import Common
import Foundation
import Tensor

// Every function here takes `inout some RandomNumberGenerator`, so the project's own generator
// (Sampling module) can be passed instead of `SplitMix64`.

/// `SplitMix64` (Common/SplitMix64.swift; Steele, Lea & Flood 2014) is the generator for phantoms,
/// splits and tests; the training loop uses `SeededGenerator` (Sampling) instead.
extension SplitMix64 {
    /// Uniform Float in (0, 1]: the top 24 bits, offset by one ulp so log() is finite.
    @inline(__always) mutating func nextUnitFloat() -> Float {
        Float((next() >> 40) + 1) * (1 / 16_777_216)
    }

    /// Box–Muller, both outputs used.
    mutating func fillNormalFast(_ buffer: inout [Float], sigma: Float) {
        let n = buffer.count
        buffer.withUnsafeMutableBufferPointer { b in
            var i = 0
            while i < n {
                let r = (-2 * logf(nextUnitFloat())).squareRoot() * sigma
                let t = 2 * Float.pi * nextUnitFloat()
                b[i] = r * cosf(t)
                if i + 1 < n { b[i + 1] = r * sinf(t) }
                i += 2
            }
        }
    }

    /// A seed derived from `seed` and a stream number, so that e.g. case i of a dataset does not
    /// depend on how many cases are generated.
    public static func derive(_ seed: UInt64, stream: UInt64) -> UInt64 {
        var g = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        _ = g.next()
        return g.next()
    }
}

extension RandomNumberGenerator {
    /// Uniform in [lower, upper] (returns `lower` when the interval is empty).
    public mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
        upper > lower ? Double.random(in: lower...upper, using: &self) : lower
    }

    /// Bernoulli draw with probability p. Always consumes one draw, so toggling an option does
    /// not shift the random stream of the others.
    public mutating func chance(_ p: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < p
    }

    /// Standard normal draw (Box–Muller; one of the pair is discarded for simplicity).
    public mutating func normal() -> Double {
        let u1 = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Fills `buffer` with N(0, sigma²) values. Bulk draws come from a local `SplitMix64`
    /// seeded by one draw of this generator: reproducible from it, and free of the per-value
    /// cost of calling an unspecialised generic generator (docs/performance.md, "Measurements
    /// behind constants in the code").
    public mutating func fillNormal(_ buffer: inout [Float], sigma: Float) {
        var local = SplitMix64(seed: next())
        local.fillNormalFast(&buffer, sigma: sigma)
    }

    /// nnU-Net's `BGContrast` draw for a multiplicative factor range [lo, hi] containing 1:
    /// with probability 1/2 (and lo < 1) uniform in [lo, 1], otherwise uniform in [max(lo, 1), hi].
    /// Reductions and increases are then equally likely although the range is asymmetric.
    public mutating func bgContrastFactor(_ lo: Double, _ hi: Double) -> Double {
        if chance(0.5) && lo < 1 { return uniform(lo, 1) }
        return uniform(Swift.max(lo, 1), hi)
    }
}
