// Hardness weighted sampler with O(B log N) draws and updates (docs/method.md §1).
//
// Distribution. q = softmax(β·L̃); with the floor on, p_i = max(q_i, ε) / Σ_j max(q_j, ε),
// ε = floor/N — exactly the authors' `p[p <= eps] = eps; p /= p.sum()`.
//
// Data structure. A sum tree holds e_i = exp(β(L̃_i − c)) for a reference c (the max of L̃ at
// the last rebuild), so S = Σ e_i is its root and q_i = e_i / S. Since max(q_i, ε) =
// max(e_i, τ)/S with τ = ε·S, p_i ∝ max(e_i, τ): the floor needs no per-iteration O(N) work.
// It is sampled exactly by rejection: propose i with probability ∝ e_i + τ (a tree descent with
// probability S/(S + Nτ), else a uniform index), accept with probability max(e_i, τ)/(e_i + τ).
// Accepted draws then follow max(e_i, τ) exactly; the acceptance rate is ≥ 1/(1 + floor)
// (≥ 0.9999 at the default floor), so a draw costs one descent plus O(1) expected extra work.
//
// Batches. B distinct indices by successive draws, each renormalised over the indices not yet
// drawn (the law of numpy's `choice(N, B, replace=False, p=p)`): a drawn leaf is set to 0 in
// the tree until the batch is complete, uniform proposals of drawn indices are rejected, and τ
// stays ε·S of the full distribution, so draw k follows p_i / (1 − Σ_{drawn} p_j).
//
// Exactness. Sampling follows p exactly (up to Double rounding of e_i and of the sums); the
// property tests compare the tree's total and every probability with the naive O(N)
// recomputation (`NaiveSoftmaxSampler`) over random update sequences with β up to 10⁴: bound
// 1e-9 relative, measured worst 1.1e-13.
//
// Range. c is re-based (c ← max L̃, O(N) rebuild, counted in `rebuildCount`) when an update would
// make β(L̃_i − c) exceed `overflowExponentLimit` or S fall below exp(−underflowExponentLimit);
// so every leaf stays finite and the largest leaf stays far above the subnormal range. With
// losses in a range R and β·R below ~300 (β = 100 with Dice+CE in [0, 2]) this never happens;
// at β = 10⁴ with losses jumping across [0, 10] it can happen every few iterations (each O(N)),
// which is still exact, only slower.

import Foundation

public final class HardnessWeightedSampler: Sampler {
    public internal(set) var options: HardnessSamplerOptions
    /// Stale loss history L̃ (one Double per sample).
    public internal(set) var staleLosses: [Double]
    public internal(set) var drawCounts: [UInt32]
    /// The sampler's own random stream, saved with its state.
    public internal(set) var generator: SeededGenerator
    /// Reference c of the tree's leaves exp(β(L̃ − c)).
    public internal(set) var reference: Double
    /// Re-basings of c since the sampler was created (initial build excluded).
    public internal(set) var rebuildCount: Int = 0
    let tree: SumTree
    /// Leaves zeroed during a batch, restored at its end (kept to avoid an allocation per batch).
    private var zeroed: [(index: Int, leaf: Double)] = []

    /// Re-base when β(L̃ − c) would exceed this: e^600 · 10⁹ samples ≈ 4e269, below Double's
    /// largest finite 1.8e308 (ln = 709.8), so S and every partial sum stay finite.
    public static let overflowExponentLimit = 600.0
    /// Re-base when S falls below exp(−this): the largest leaf is then ≥ e^−300/N (≥ e^−321 for
    /// N ≤ 10⁹), leaving ≥ 380 nats of normal Double range (down to e^−708) below it.
    public static let underflowExponentLimit = 300.0
    static let minimumTotal = Foundation.exp(-underflowExponentLimit)

    public var count: Int { staleLosses.count }

    /// Initial history L̃_i = L_init·(1 + 0.001·ε_i), ε_i ~ N(0, 1) drawn from `generator`.
    public convenience init(count: Int, options: HardnessSamplerOptions, generator: SeededGenerator) throws {
        try options.validate()
        guard count >= 1 else { throw SamplerError.invalidInitialLosses("a sampler needs at least 1 sample, got \(count)") }
        var g = generator
        let initial = (0 ..< count).map { _ in
            options.initLoss * (1 + HardnessSamplerOptions.initNoiseScale * g.nextNormal())
        }
        try self.init(initialLosses: initial, options: options, generator: g)
    }

    /// Initial history given explicitly (e.g. losses of a previous run).
    public init(initialLosses: [Double], options: HardnessSamplerOptions, generator: SeededGenerator) throws {
        try options.validate()
        guard !initialLosses.isEmpty else { throw SamplerError.invalidInitialLosses("a sampler needs at least 1 sample, got 0") }
        if let k = initialLosses.firstIndex(where: { !$0.isFinite || abs($0) > HardnessSamplerOptions.maxAbsLoss }) {
            throw SamplerError.invalidInitialLosses(
                "value \(initialLosses[k]) for sample \(k) is not finite or exceeds \(HardnessSamplerOptions.maxAbsLoss)")
        }
        self.options = options
        staleLosses = initialLosses
        drawCounts = [UInt32](repeating: 0, count: initialLosses.count)
        self.generator = generator
        reference = 0
        tree = SumTree(leaves: [Double](repeating: 0, count: initialLosses.count))
        rebase()
    }

    /// Floor ε = floor/N.
    var floorEpsilon: Double { options.floor / Double(count) }

    @inline(__always) func leafValue(_ stale: Double) -> Double {
        Foundation.exp(options.beta * (stale - reference))
    }

    /// c ← max L̃; every leaf recomputed; O(N).
    func rebase() {
        reference = staleLosses.max() ?? 0
        rebuildTree()
    }

    /// Leaves from L̃ and the current c, then the internal sums.
    func rebuildTree() {
        let beta = options.beta, c = reference
        staleLosses.withUnsafeBufferPointer { l in
            tree.assignLeaves { i in Foundation.exp(beta * (l[i] - c)) }  // = leafValue(l[i])
        }
    }

    public func nextBatch(size: Int) throws -> [Int] {
        guard size >= 1, size <= count else { throw SamplerError.invalidBatchSize(requested: size, samples: count) }
        let tau = floorEpsilon * tree.total
        var g = generator
        defer { generator = g }
        var batch = [Int](); batch.reserveCapacity(size)
        zeroed.removeAll(keepingCapacity: true)
        for k in 0 ..< size {
            let i = drawOne(tau: tau, drawn: batch, &g)
            batch.append(i)
            if drawCounts[i] < UInt32.max { drawCounts[i] += 1 }
            if k < size - 1 {
                zeroed.append((i, tree.leaf(i)))
                tree.set(i, 0)
            }
        }
        for (i, e) in zeroed { tree.set(i, e) }
        return batch
    }

    /// One draw ∝ max(e_i, τ) over the indices not in `drawn` (whose leaves are zeroed).
    @inline(__always) private func drawOne(tau: Double, drawn: [Int], _ generator: inout SeededGenerator) -> Int {
        let n = count
        let uniformMass = Double(n) * tau
        while true {
            let remaining = tree.total
            let mass = remaining + uniformMass
            guard mass > 0 else { return uniformRemaining(drawn: drawn, &generator) }
            let x = generator.nextDouble() * mass
            let i: Int
            if x < remaining {
                i = tree.descend(x)
            } else {
                i = generator.nextIndex(below: n)
                if drawn.contains(i) { continue }
            }
            if tau > 0 {
                let e = tree.leaf(i)
                if generator.nextDouble() * (e + tau) >= Swift.max(e, tau) { continue }
            }
            return i
        }
    }

    /// Floor off and every remaining leaf underflowed to 0 (all remaining probabilities are below
    /// 1e-308 of the drawn ones): the remaining indices are taken as equally likely.
    private func uniformRemaining(drawn: [Int], _ generator: inout SeededGenerator) -> Int {
        while true {
            let i = generator.nextIndex(below: count)
            if !drawn.contains(i) { return i }
        }
    }

    public func feedBack(indices: [Int], losses: [Double]) throws -> [Double] {
        try validateFeedback(indices: indices, losses: losses, count: count)
        // Weights use the history before any of this batch's updates (docs/method.md §1.6).
        let weights = options.importanceSampling
            ? zip(indices, losses).map { importanceWeight(loss: $1, stale: staleLosses[$0], options: options) }
            : [Double](repeating: 1, count: indices.count)
        var needRebase = false
        for (i, l) in zip(indices, losses) {
            let updated = momentumUpdate(stale: staleLosses[i], loss: l, momentum: options.momentum)
            staleLosses[i] = updated
            if options.beta * (updated - reference) > Self.overflowExponentLimit { needRebase = true }
            if !needRebase { tree.set(i, leafValue(updated)) }
        }
        if needRebase || tree.total < Self.minimumTotal {
            rebase()
            rebuildCount += 1
        }
        return weights
    }
}
