// Independent references and statistical bounds shared by the sampling tests.

import Foundation
@testable import Sampling

/// The method's distribution computed independently of the library, in Double:
/// q_i = 1 / Σ_j exp(β(L_j − L_i)) (an algebraically equal form of softmax(β·L)), then
/// p_i = max(q_i, ε) / Σ_j max(q_j, ε) with ε = floor/N — the authors' `p[p <= eps] = eps;
/// p /= p.sum()`.
func exactDistribution(_ losses: [Double], beta: Double, floor: Double) -> [Double] {
    let q = losses.map { li in 1 / losses.reduce(0.0) { $0 + exp(beta * ($1 - li)) } }
    let eps = floor / Double(losses.count)
    let f = q.map { max($0, eps) }
    let z = f.reduce(0, +)
    return f.map { $0 / z }
}

/// Bretagnolle–Huber–Carol inequality: for n i.i.d. draws over k categories,
/// P(‖p̂ − p‖₁ ≥ λ) ≤ 2^k · exp(−nλ²/2). Returns the λ whose bound equals `falseFailure`:
/// λ = sqrt(2 (k ln 2 + ln(1/δ)) / n). A correct sampler exceeds it with probability ≤ δ.
func l1Bound(categories k: Int, samples n: Int, falseFailure delta: Double) -> Double {
    (2 * (Double(k) * log(2) + log(1 / delta)) / Double(n)).squareRoot()
}

func l1Distance(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { $0 + abs($1.0 - $1.1) }
}

func frequencies(_ counts: [Int]) -> [Double] {
    let n = Double(counts.reduce(0, +))
    return counts.map { Double($0) / n }
}

/// False-failure probability used for every statistical check (union over all checks in the
/// suite stays below 1e-7).
let statisticalDelta = 1e-9

/// Relative difference |a − b| / max(|a|, |b|), 0 when both are 0.
func relativeDifference(_ a: Double, _ b: Double) -> Double {
    let m = max(abs(a), abs(b))
    return m == 0 ? 0 : abs(a - b) / m
}

func makeHardness(_ losses: [Double], beta: Double, floor: Double = HardnessSamplerOptions.defaultFloor,
                  momentum: Double = 0, importance: Bool = false, seed: UInt64 = 1) throws -> HardnessWeightedSampler {
    try HardnessWeightedSampler(
        initialLosses: losses,
        options: HardnessSamplerOptions(beta: beta, momentum: momentum, importanceSampling: importance, floor: floor),
        generator: SeededGenerator(seed: seed))
}
