// Property tests: over random sequences of draws and feedback, the tree sampler's total and every
// probability agree with a naive O(N) recomputation, and its tree is bit-identical to one built
// from scratch.
//
// Tolerances. Total: 1e-12 relative — the tree and a left-to-right loop add the same N terms in
// different orders, each order within (log₂N or N)·2⁻⁵³ ≈ 1e-13 relative of the exact sum for
// N ≤ 1000 positive terms. Probabilities: 1e-9 relative (the bound); the measured
// worst case is printed. exp arguments β(L̃ − c) differ from the oracle's β(L̃ − max) by
// rounding of at most ~|β·L|·2⁻⁵² ≈ 2e-11 here, so agreement is ~1e-11 in practice.
// Underflow: with the floor off, a probability below e^−(708−300−ln N) ≈ 1e-180 may be 0 in the
// tree (its leaves are relative to c, which may sit up to 300/β above the current max — see
// `underflowExponentLimit`) while the oracle, relative to the exact max, still resolves it down to
// 1e-308; there only an absolute 1e-180 is asked. The floor (on by default) keeps every
// probability ≥ ε/(1 + floor), far from this range.

import Foundation
import XCTest
@testable import Sampling

final class SumTreePropertyTests: XCTestCase {
    /// Leaves in left-to-right order: in-order walk of node 1 (children 2v, 2v+1; leaf i at N + i).
    private func leafOrder(_ n: Int) -> [Int] {
        var out = [Int]()
        func walk(_ v: Int) { if v >= n { out.append(v - n) } else { walk(2 * v); walk(2 * v + 1) } }
        walk(1)
        return out
    }

    func testSumTreeMatchesBruteForce() {
        var g = SeededGenerator(seed: 21)
        for n in [1, 2, 3, 5, 8, 13, 100] {
            var leaves = (0 ..< n).map { _ in g.nextDouble() }
            let t = SumTree(leaves: leaves)
            for _ in 0 ..< 200 {
                let i = g.nextIndex(below: n), v = g.nextDouble() < 0.2 ? 0 : g.nextDouble()
                leaves[i] = v
                t.set(i, v)
                XCTAssertEqual(t.nodes, SumTree(leaves: leaves).nodes)  // bit-identical to a rebuild
                let total = leaves.reduce(0, +)
                guard total > 0 else { continue }
                XCTAssertEqual(t.total, total, accuracy: 1e-13 * total)
                // descend(x) returns the leaf whose cumulative interval holds x, cumulating in the
                // tree's left-to-right leaf order.
                let x = g.nextDouble() * t.total
                let j = t.descend(x)
                let order = leafOrder(n)
                let before = order[..<order.firstIndex(of: j)!].reduce(0.0) { $0 + leaves[$1] }
                XCTAssertGreaterThan(leaves[j], 0)
                XCTAssert(x >= before - 1e-12 && x < before + leaves[j] + 1e-12, "n=\(n) x=\(x) leaf \(j)")
            }
        }
    }

    func testTreeSamplerAgreesWithNaiveOracleOverRandomSequences() throws {
        var g = SeededGenerator(seed: 2026)
        var worst = 0.0
        let underflowZone = 1e-180
        var rebuilds = 0
        for trial in 0 ..< 40 {
            let n = [1, 2, 3, 7, 64, 100, 1000][trial % 7]
            let beta = [0, 0.5, 10, 100, 1e4][trial % 5]
            let floor = trial % 3 == 0 ? 0 : (trial % 3 == 1 ? 1e-4 : 0.3)
            let m = trial % 4 == 0 ? 0.9 : 0
            let o = HardnessSamplerOptions(beta: beta, momentum: m, importanceSampling: true, floor: floor)
            let initial = (0 ..< n).map { _ in g.nextDouble(in: 0, 10) }
            let tree = try HardnessWeightedSampler(initialLosses: initial, options: o, generator: g.spawn())
            let naive = try NaiveSoftmaxSampler(initialLosses: initial, options: o, generator: g.spawn())
            defer { rebuilds += tree.rebuildCount }
            for step in 0 ..< 150 {
                let b = 1 + g.nextIndex(below: min(n, 4))
                let drawn = try tree.nextBatch(size: b)
                XCTAssertEqual(Set(drawn).count, b)
                // Feed back the drawn indices, or arbitrary ones, with losses in [0, 10].
                let idx = step % 2 == 0 ? drawn : (0 ..< b).map { _ in g.nextIndex(below: n) }
                let losses = idx.map { _ in g.nextDouble() < 0.1 ? 10 * Double(g.nextIndex(below: 2)) : g.nextDouble(in: 0, 10) }
                let wt = try tree.feedBack(indices: idx, losses: losses)
                let wn = try naive.feedBack(indices: idx, losses: losses)
                XCTAssertEqual(wt, wn)
                XCTAssertEqual(tree.staleLosses, naive.staleLosses)
                XCTAssertEqual(tree.tree.nodes, SumTree(leaves: (0 ..< n).map { tree.leafValue(tree.staleLosses[$0]) }).nodes)
                let naiveTotal = tree.staleLosses.reduce(0.0) { $0 + exp(beta * ($1 - tree.reference)) }
                XCTAssertEqual(tree.treeTotal, naiveTotal, accuracy: 1e-12 * naiveTotal)
                XCTAssert(tree.treeTotal.isFinite && tree.treeTotal >= HardnessWeightedSampler.minimumTotal)
                if step % 10 == 9 || n <= 7 {
                    for (a, e) in zip(tree.probabilities(), naive.probabilities()) {
                        let tol = floor == 0 && e < underflowZone ? underflowZone : 1e-9 * e
                        XCTAssertLessThanOrEqual(abs(a - e), tol, "n=\(n) β=\(beta) floor=\(floor) step=\(step)")
                        if e >= underflowZone { worst = max(worst, relativeDifference(a, e)) }
                    }
                }
            }
        }
        print("tree vs naive: worst relative probability difference \(worst), \(rebuilds) re-basings")
        XCTAssertGreaterThan(rebuilds, 10, "the sequences must exercise re-basing of c")
    }

    /// Restoring the drawn leaves after a batch leaves the tree exactly as before.
    func testBatchLeavesTreeUnchanged() throws {
        var g = SeededGenerator(seed: 5)
        let s = try makeHardness((0 ..< 50).map { _ in g.nextDouble(in: 0, 3) }, beta: 3)
        let before = s.tree.nodes
        for b in [1, 2, 7, 50] { _ = try s.nextBatch(size: b) }
        XCTAssertEqual(s.tree.nodes, before)
    }
}
