import Common
import XCTest
@testable import Tensor

/// Dice + CE against a Double reimplementation written from nnU-Net's formula, and its gradient
/// against finite differences of that reimplementation.
final class DiceCELossTests: XCTestCase {
    let n = 2, cl = 3, v = 5 * 6 * 7

    /// Returns (loss, per-sample ℓ). Mirrors SoftDiceLoss(do_bg=False, smooth) + CE (module doc).
    static func reference(_ z: [Double], labels: [Int32], n: Int, cl: Int, v: Int, smooth: Double = 1e-5,
                          batchDice: Bool = false, weights: [Double]? = nil,
                          diceWeight: Double = 1, ceWeight: Double = 1) -> (Double, [Double]) {
        var p = z
        var ce = [Double](repeating: 0, count: n)
        for s in 0..<n { for i in 0..<v {
            let zs = (0..<cl).map { z[(s * cl + $0) * v + i] }
            let m = zs.max()!, lse = m + Foundation.log(zs.map { Foundation.exp($0 - m) }.reduce(0, +))
            for k in 0..<cl { p[(s * cl + k) * v + i] = Foundation.exp(zs[k] - lse) }
            ce[s] -= (zs[Int(labels[s * v + i])] - lse) / Double(v)
        }}
        func sums(_ s: Int, _ k: Int) -> (Double, Double, Double) {
            var tp = 0.0, sp = 0.0, sy = 0.0
            for i in 0..<v { let y = labels[s * v + i] == k ? 1.0 : 0.0; let q = p[(s * cl + k) * v + i]; tp += q * y; sp += q; sy += y }
            return (tp, sp, sy)
        }
        var per = [Double](repeating: 0, count: n)
        for s in 0..<n {
            var d = 0.0
            for k in 1..<cl { let (tp, sp, sy) = sums(s, k); d += (2 * tp + smooth) / (sp + sy + smooth) }
            per[s] = ceWeight * ce[s] + diceWeight * (1 - d / Double(cl - 1))
        }
        if batchDice {
            var d = 0.0
            for k in 1..<cl {
                var tp = 0.0, sp = 0.0, sy = 0.0
                for s in 0..<n { let t = sums(s, k); tp += t.0; sp += t.1; sy += t.2 }
                d += (2 * tp + smooth) / (sp + sy + smooth)
            }
            return (ceWeight * ce.reduce(0, +) / Double(n) + diceWeight * (1 - d / Double(cl - 1)), per)
        }
        let w = weights ?? [Double](repeating: 1, count: n)
        return ((0..<n).map { w[$0] * per[$0] }.reduce(0, +) / Double(n), per)
    }

    func labels(seed: UInt64) -> [Int32] {
        var rng = SplitMix64(seed: seed)
        return (0..<(n * v)).map { _ in Int32.random(in: 0..<Int32(cl), using: &rng) }
    }

    func check(batchDice: Bool, weights: [Double]?, name: String, diceWeight: Double = 1, ceWeight: Double = 1) throws {
        let z = randomDoubles(n * cl * v, seed: 41, scale: 2), y = labels(seed: 42)
        var grad = [Float](repeating: .nan, count: z.count)
        let loss = DiceCELoss(batchDice: batchDice, diceWeight: diceWeight, ceWeight: ceWeight)
        let out = try floats(z).withPtr { zp in try y.withUnsafeBufferPointer { yp in
            try loss.evaluate(logits: zp, labels: yp.baseAddress!, batch: n, classes: cl, voxels: v, weights: weights,
                              gradient: &grad, workspace: Workspace())
        }}
        let (refLoss, refPer) = Self.reference(z, labels: y, n: n, cl: cl, v: v, batchDice: batchDice, weights: weights,
                                               diceWeight: diceWeight, ceWeight: ceWeight)
        let fd = finiteDifferences(z, indices: sampledIndices(z.count, every: 2)) {
            Self.reference($0, labels: y, n: self.n, cl: self.cl, v: self.v, batchDice: batchDice, weights: weights,
                           diceWeight: diceWeight, ceWeight: ceWeight).0 }
        let e = worstRelativeError(analytic: grad, reference: fd)
        report("\(name) dlogits", e)
        print("[FD] \(name): loss \(out.loss) reference \(refLoss)")
        // Loss from Float softmax sums over 210 voxels: 1e-6 relative.
        XCTAssertEqual(out.loss, refLoss, accuracy: 1e-6 * max(1, abs(refLoss)))
        for s in 0..<n { XCTAssertEqual(out.perSample[s], refPer[s], accuracy: 1e-6) }
        XCTAssertLessThan(e, 1e-4)
    }

    func testSampleDiceGradient() throws { try check(batchDice: false, weights: nil, name: "dice+ce") }
    func testBatchDiceGradient() throws { try check(batchDice: true, weights: nil, name: "batch dice+ce") }
    func testWeightedGradient() throws { try check(batchDice: false, weights: [0.3, 2.5], name: "weighted dice+ce") }
    /// `training.loss.dice_weight` / `ce_weight`: loss, per-sample values and gradient of
    /// λ_D·Dice-term + λ_CE·CE, with and without importance weights and with batch Dice.
    func testTermWeightsGradient() throws {
        try check(batchDice: false, weights: [0.3, 2.5], name: "λ-weighted dice+ce", diceWeight: 0.3, ceWeight: 2)
        try check(batchDice: true, weights: nil, name: "λ-weighted batch dice+ce", diceWeight: 1.7, ceWeight: 0.4)
        try check(batchDice: false, weights: nil, name: "dice only", diceWeight: 1, ceWeight: 0)
    }

    /// A hand computation: one sample, 2 classes, 2 voxels, logits (0, 0) and (0, ln 3) → p₁ =
    /// 1/2 and 3/4; labels (0, 1); smooth 0. CE = −(ln ½ + ln ¾)/2 = ln(8/3)/2; Dice of class 1 =
    /// 2·¾ / (5/4 + 1) = 2/3. With λ_D = 0.3, λ_CE = 2: ℓ = ln(8/3) + 0.3·(1/3) = ln(8/3) + 0.1.
    func testTermWeightsByHand() throws {
        let z: [Float] = [0, 0, 0, Float(Foundation.log(3.0))]   // [class][voxel]
        let y: [Int32] = [0, 1]
        let out = try z.withPtr { zp in try y.withUnsafeBufferPointer { yp in
            try DiceCELoss(smooth: 0, diceWeight: 0.3, ceWeight: 2).evaluate(
                logits: zp, labels: yp.baseAddress!, batch: 1, classes: 2, voxels: 2, gradient: nil, workspace: Workspace())
        }}
        let expected = Foundation.log(8.0 / 3.0) + 0.1
        // Float softmax of 2 voxels: 1e-6.
        XCTAssertEqual(out.loss, expected, accuracy: 1e-6)
        XCTAssertEqual(out.perSample[0], expected, accuracy: 1e-6)
        XCTAssertEqual(out.perSampleDice[0], 2.0 / 3.0, accuracy: 1e-6)
    }

    /// Perfect, confident prediction: Dice → 1, CE → 0, loss → 0 (up to exp(−20) terms).
    func testPerfectPredictionHasNearZeroLoss() throws {
        let y = labels(seed: 5)
        var z = [Float](repeating: -10, count: n * cl * v)
        for s in 0..<n { for i in 0..<v { z[(s * cl + Int(y[s * v + i])) * v + i] = 10 } }
        let out = try z.withPtr { zp in try y.withUnsafeBufferPointer { yp in
            try DiceCELoss().evaluate(logits: zp, labels: yp.baseAddress!, batch: n, classes: cl, voxels: v,
                                      gradient: nil, workspace: Workspace()) } }
        XCTAssertLessThan(out.loss, 1e-6)
        for d in out.perSampleDice { XCTAssertEqual(d, 1, accuracy: 1e-6) }
    }

    /// 9 classes (the fetal network's) over 2 × 8 493 voxels: three 4096-voxel statistics blocks
    /// (the last partial), runs of 256 ending mid-run; loss against the Double reference, sampled
    /// dlogits against its finite differences, and the same bits for 1, 2 and 3 threads.
    func testNineClassesAcrossBlocksAndThreadCounts() throws {
        let n = 2, cl = 9, v = 2 * 4096 + 301
        let z = randomDoubles(n * cl * v, seed: 43, scale: 3)
        var rng = SplitMix64(seed: 44)
        let y = (0..<(n * v)).map { _ in Int32.random(in: 0..<Int32(cl), using: &rng) }
        func run(_ threads: Int) throws -> (DiceCELoss.Output, [Float]) {
            var grad = [Float](repeating: .nan, count: z.count)
            let out = try floats(z).withPtr { zp in try y.withUnsafeBufferPointer { yp in
                try DiceCELoss().evaluate(logits: zp, labels: yp.baseAddress!, batch: n, classes: cl, voxels: v,
                                          gradient: &grad, workspace: Workspace(), threads: threads)
            }}
            return (out, grad)
        }
        let (out, grad) = try run(2)
        let (refLoss, refPer) = Self.reference(z, labels: y, n: n, cl: cl, v: v)
        let idx = sampledIndices(z.count, every: 4001)
        // Step 1e-3: dlogits are ~1/(N·V) ≈ 6e-5 here, and a 1e-5 step's Double rounding of a loss
        // of ~4 (~4e-16 / 2e-5) was itself 6e-5 of them (measured); the cubic term stays ≲ 1e-6.
        let fd = finiteDifferences(z, indices: idx, step: 1e-3) { Self.reference($0, labels: y, n: n, cl: cl, v: v).0 }
        let e = worstRelativeError(analytic: grad, reference: fd)
        report("dice+ce 9 classes dlogits (\(idx.count) sampled)", e)
        print("[FD] dice+ce 9 classes: loss \(out.loss) reference \(refLoss)")
        // Double block sums of Float p over 8 493 voxels per sample: 1e-6 relative leaves ~100× margin.
        XCTAssertEqual(out.loss, refLoss, accuracy: 1e-6 * max(1, abs(refLoss)))
        for s in 0..<n { XCTAssertEqual(out.perSample[s], refPer[s], accuracy: 1e-6) }
        XCTAssertLessThan(e, 1e-4)
        for threads in [1, 3] {
            let (o, g) = try run(threads)
            XCTAssertEqual(o.loss.bitPattern, out.loss.bitPattern, "loss, \(threads) vs 2 threads")
            XCTAssertEqual(o.perSample.map(\.bitPattern), out.perSample.map(\.bitPattern))
            XCTAssertEqual(g.map(\.bitPattern), grad.map(\.bitPattern), "dlogits, \(threads) vs 2 threads")
        }
    }

    /// Extreme logits on 9 classes: spreads of ±40 around offsets of 0, ±3000 (Float spacing 2^−12
    /// there), whole classes masked to −inf (never the label's), ties. Loss and per-sample values
    /// against the Double reference; dlogits against its finite differences at finite logits and
    /// exactly 0 at the masked ones (p = 0 there, y = 0).
    func testExtremeAndMaskedLogits() throws {
        let n = 2, cl = 9, v = 4096 + 300 + 7
        var rng = SplitMix64(seed: 91)
        var z = [Double](repeating: 0, count: n * cl * v)
        var y = [Int32](repeating: 0, count: n * v)
        var masked = Set<Int>()
        for s in 0..<n { for i in 0..<v {
            let label = Int32.random(in: 0..<Int32(cl), using: &rng)
            y[s * v + i] = label
            let offset = [0.0, 3000, -3000, 0][i % 4]
            for c in 0..<cl {
                let k = (s * cl + c) * v + i
                z[k] = Double(Float(offset + Double.random(in: -40...40, using: &rng)))
                if i % 13 == 4 { z[k] = offset }
                if i % 5 == 2 && c != Int(label) && c % 3 != 0 { z[k] = -.infinity; masked.insert(k) }
            }
        }}
        var grad = [Float](repeating: .nan, count: z.count)
        let out = try floats(z).withPtr { zp in try y.withUnsafeBufferPointer { yp in
            try DiceCELoss().evaluate(logits: zp, labels: yp.baseAddress!, batch: n, classes: cl, voxels: v,
                                      gradient: &grad, workspace: Workspace())
        }}
        let (refLoss, refPer) = Self.reference(z, labels: y, n: n, cl: cl, v: v)
        let idx = sampledIndices(z.count, every: 997).filter { !masked.contains($0) }
        // Step 1e-3 as in the 9-class test (dlogits ~1/(N·V)); the logits are Float-exact values.
        let fd = finiteDifferences(z, indices: idx, step: 1e-3) { Self.reference($0, labels: y, n: n, cl: cl, v: v).0 }
        let e = worstRelativeError(analytic: grad, reference: fd)
        report("dice+ce extreme/masked logits dlogits (\(idx.count) sampled)", e)
        print("[FD] dice+ce extreme logits: loss \(out.loss) reference \(refLoss)")
        // The CE terms reach ~80 per voxel here (x − max in Float: 2^−24 relative each, random signs);
        // 1e-6 relative to the loss.
        XCTAssertEqual(out.loss, refLoss, accuracy: 1e-6 * max(1, abs(refLoss)))
        for s in 0..<n { XCTAssertEqual(out.perSample[s], refPer[s], accuracy: 1e-6 * max(1, abs(refPer[s]))) }
        XCTAssertLessThan(e, 1e-4)
        for k in masked { XCTAssertEqual(grad[k], 0, "masked logit \(k)") }
        XCTAssertTrue(grad.allSatisfy { $0.isFinite })
    }

    func testBadInputsThrowNamedErrors() {
        let z = [Float](repeating: 0, count: 2 * 3)
        let bad: [Int32] = [0, 3]
        XCTAssertThrowsError(try z.withPtr { zp in try bad.withUnsafeBufferPointer { yp in
            try DiceCELoss().evaluate(logits: zp, labels: yp.baseAddress!, batch: 1, classes: 3, voxels: 2,
                                      gradient: nil, workspace: Workspace()) } }) { e in
            XCTAssertEqual("\(e)", "loss: label 3 at sample 0, voxel 1; allowed 0...2")
        }
        let ok: [Int32] = [0, 1]
        XCTAssertThrowsError(try z.withPtr { zp in try ok.withUnsafeBufferPointer { yp in
            try DiceCELoss(batchDice: true).evaluate(logits: zp, labels: yp.baseAddress!, batch: 1, classes: 3, voxels: 2,
                                                     weights: [1], gradient: nil, workspace: Workspace()) } })
    }
}
