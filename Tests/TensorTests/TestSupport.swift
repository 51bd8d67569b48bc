import Common
import XCTest
@testable import Tensor

/// Seeded random Doubles in [-1, 1).
func randomDoubles(_ n: Int, seed: UInt64, scale: Double = 1) -> [Double] {
    var rng = SplitMix64(seed: seed)
    return (0..<n).map { _ in scale * Double.random(in: -1..<1, using: &rng) }
}

func floats(_ d: [Double]) -> [Float] { d.map { Float($0) } }

/// Central finite differences of f at x, for the indices in `indices` (default all).
/// Step 1e-5 in Double: truncation error O(h²·f''') ≈ 1e-10 and round-off ≈ 1e-16/h ≈ 1e-11,
/// both far below the Float-precision analytic gradients being checked.
func finiteDifferences(_ x: [Double], indices: [Int]? = nil, step h: Double = 1e-5,
                       _ f: ([Double]) -> Double) -> [Int: Double] {
    var out: [Int: Double] = [:]
    var xx = x
    for i in indices ?? Array(x.indices) {
        let x0 = xx[i]
        xx[i] = x0 + h; let fp = f(xx)
        xx[i] = x0 - h; let fm = f(xx)
        xx[i] = x0
        out[i] = (fp - fm) / (2 * h)
    }
    return out
}

/// Worst relative error max_i |a_i − r_i| / max(|r_i|, floor), floor = 1e-2·max|r| so that
/// near-zero entries are judged against the gradient's scale, not against 0.
func worstRelativeError(analytic: [Float], reference: [Int: Double]) -> Double {
    let scale = reference.values.map(abs).max() ?? 0
    let floor = max(1e-2 * scale, 1e-12)
    var worst = 0.0
    for (i, r) in reference {
        worst = max(worst, abs(Double(analytic[i]) - r) / max(abs(r), floor))
    }
    return worst
}

/// Same metric for two full arrays.
func worstRelativeError(_ a: [Float], _ r: [Double]) -> Double {
    var dict: [Int: Double] = [:]
    for (i, v) in r.enumerated() { dict[i] = v }
    return worstRelativeError(analytic: a, reference: dict)
}

/// Σ r·y, the scalar whose gradient w.r.t. y is r (used to probe a layer's backward with dy = r).
func dotLoss(_ y: [Double], _ r: [Double]) -> Double { zip(y, r).reduce(0) { $0 + $1.0 * $1.1 } }

/// Every `stride`-th index plus the last, to keep finite differences cheap on larger tensors.
func sampledIndices(_ n: Int, every stride: Int) -> [Int] {
    Array(Swift.stride(from: 0, to: n, by: max(1, stride))) + [n - 1]
}

func report(_ name: String, _ err: Double) {
    print("[FD] \(name): worst relative error \(String(format: "%.2e", err))")
}

extension Array where Element == Float {
    func withPtr<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
}
