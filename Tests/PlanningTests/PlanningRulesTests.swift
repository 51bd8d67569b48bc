import XCTest
@testable import Planning

/// Each expected value below was derived by hand, step by step, from nnU-Net v2's code
/// (default_experiment_planner.py: determine_fullres_target_spacing, get_plans_for_configuration;
/// network_topology.py: get_pool_and_conv_props with min_feature_map_size 4), not by running
/// the code under test; the derivations are written next to each case. Axes are x, y, z.
final class PlanningRulesTests: XCTestCase {
    // MARK: target spacing

    func testIsotropicTargetIsTheMedian() {
        // Median per axis of {1, 1.2, 0.9} = 1; no axis is 3× coarser.
        let t = PlanningRules.targetSpacing(spacings: [[1, 1, 1], [1.2, 1.2, 1.2], [0.9, 0.9, 0.9]],
                                            shapesAfterCrop: [[100, 100, 100], [90, 90, 90], [80, 80, 80]])
        XCTAssertEqual(t, [1, 1, 1])
    }

    func testAnisotropicAxisTakesItsTenthPercentile() {
        // 0.8×0.8×z with z ∈ {2.5, 3, 3, 3.5, 4}: median z 3 > 3·0.8 = 2.4, median size z 40·3 = 120 < 200,
        // so z takes np.percentile(z, 10): position 0.1·4 = 0.4 → 2.5 + 0.4·(3 − 2.5) = 2.7 (≥ 0.8, kept).
        let zs = [2.5, 3, 3, 3.5, 4]
        let t = PlanningRules.targetSpacing(spacings: zs.map { [0.8, 0.8, $0] },
                                            shapesAfterCrop: Array(repeating: [200, 200, 40], count: 5))
        XCTAssertEqual(t[0], 0.8, accuracy: 1e-12)
        XCTAssertEqual(t[1], 0.8, accuracy: 1e-12)
        XCTAssertEqual(t[2], 2.7, accuracy: 1e-12)
    }

    func testCoarseAxisWithManyVoxelsKeepsTheMedian() {
        // z is 4 > 3·1 but has as many voxels as x and y (100·3 = 300 ≥ 100): the median stays.
        let t = PlanningRules.targetSpacing(spacings: [[1, 1, 4], [1, 1, 4], [1, 1, 5]],
                                            shapesAfterCrop: Array(repeating: [100, 100, 100], count: 3))
        XCTAssertEqual(t, [1, 1, 4])
    }

    func testTenthPercentileNeverBelowTheOtherAxes() {
        // 0.5×0.5×z, z ∈ {0.2, 0.3, 5, 5, 5}: median 5 > 1.5 and 20·3 < 400; percentile 10: 0.2 + 0.4·0.1 = 0.24
        // < 0.5, so z = max(other spacings) + 1e-5 = 0.50001.
        let zs = [0.2, 0.3, 5, 5, 5]
        let t = PlanningRules.targetSpacing(spacings: zs.map { [0.5, 0.5, $0] },
                                            shapesAfterCrop: Array(repeating: [400, 400, 20], count: 5))
        XCTAssertEqual(t[2], 0.50001, accuracy: 1e-12)
    }

    // MARK: initial patch

    func testInitialPatchIsClippedToTheMedianShape() {
        // Isotropic: 256³ clipped to 160³. 0.8×0.8×3: 1/spacing scaled to 256³ volume is about
        // [398, 398, 106], clipped to [200, 200, 40].
        XCTAssertEqual(PlanningRules.initialPatch(spacing: [1, 1, 1], medianShape: [160, 160, 160]), [160, 160, 160])
        XCTAssertEqual(PlanningRules.initialPatch(spacing: [0.8, 0.8, 3], medianShape: [200, 200, 40]), [200, 200, 40])
        // Huge shape: nothing to clip; 256 on every axis.
        XCTAssertEqual(PlanningRules.initialPatch(spacing: [1, 1, 1], medianShape: [900, 900, 900]), [256, 256, 256])
    }

    // MARK: poolings and kernels

    func testIsotropicTopology() {
        // 160 → 80 → 40 → 20 → 10 → 5: five rounds (each size ≥ 8 before), all axes, kernels 3 throughout.
        let t = PlanningRules.topology(spacing: [1, 1, 1], patch: [160, 160, 160])
        XCTAssertEqual(t.poolsPerAxis, [5, 5, 5])
        XCTAssertEqual(t.divisor, [32, 32, 32])
        XCTAssertEqual(t.patch, [160, 160, 160])
        XCTAssertEqual(t.strides, Array(repeating: [2, 2, 2], count: 5))
        XCTAssertEqual(t.kernels, Array(repeating: [3, 3, 3], count: 6))
        XCTAssertTrue(t.isIsotropic)
        XCTAssertEqual(PlanningRules.features(levels: t.levels), [32, 64, 128, 256, 320, 320])
    }

    func testTopology08x08x3() {
        // Spacing [0.8, 0.8, 3], patch [192, 160, 48]:
        // r1: z/finest = 3.75 ≥ 2 → pool x, y; kernel [3, 3, 1]; spacing [1.6, 1.6, 3], size [96, 80, 48]
        // r2: 3/1.6 = 1.875 → pool all; z kernel becomes 3; spacing [3.2, 3.2, 6], size [48, 40, 24]
        // r3, r4: all; size [24, 20, 12] then [12, 10, 6]; r5: z = 6 < 8 → x, y; size [6, 5, 6]; r6: none ≥ 8.
        let t = PlanningRules.topology(spacing: [0.8, 0.8, 3], patch: [192, 160, 48])
        XCTAssertEqual(t.poolsPerAxis, [5, 5, 3])
        XCTAssertEqual(t.divisor, [32, 32, 8])
        XCTAssertEqual(t.patch, [192, 160, 48])
        XCTAssertEqual(t.strides, [[2, 2, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 1]])
        XCTAssertEqual(t.kernels, [[3, 3, 1], [3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]])
        XCTAssertFalse(t.isIsotropic)
    }

    func testTopology05x05x5() {
        // Spacing [0.5, 0.5, 5], patch [256, 256, 20]:
        // r1–r3: z/finest = 10, 5, 2.5 ≥ 2 → x, y only, kernels [3, 3, 1]; spacing [4, 4, 5], size [32, 32, 20]
        // r4: 5/4 = 1.25 → all, z kernel 3; size [16, 16, 10]; r5: all; size [8, 8, 5]
        // r6: z = 5 < 8 → x, y; size [4, 4, 5]; r7: none ≥ 8.
        let t = PlanningRules.topology(spacing: [0.5, 0.5, 5], patch: [256, 256, 20])
        XCTAssertEqual(t.poolsPerAxis, [6, 6, 2])
        XCTAssertEqual(t.divisor, [64, 64, 4])
        XCTAssertEqual(t.patch, [256, 256, 20])
        XCTAssertEqual(t.strides, [[2, 2, 1], [2, 2, 1], [2, 2, 1], [2, 2, 2], [2, 2, 2], [2, 2, 1]])
        XCTAssertEqual(t.kernels, [[3, 3, 1], [3, 3, 1], [3, 3, 1], [3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]])
    }

    func testTinyShapes() {
        // [12, 6, 6]: only x is ≥ 8; a single axis needs ≥ 3·4 = 12 → one pool of x, then none.
        let a = PlanningRules.topology(spacing: [1, 1, 1], patch: [12, 6, 6])
        XCTAssertEqual(a.poolsPerAxis, [1, 0, 0])
        XCTAssertEqual(a.strides, [[2, 1, 1]])
        XCTAssertEqual(a.kernels, [[3, 3, 3], [3, 3, 3]])
        // [11, 6, 6]: 11 < 12 → no pooling at all: one level (not a U-Net candidate).
        let b = PlanningRules.topology(spacing: [1, 1, 1], patch: [11, 6, 6])
        XCTAssertEqual(b.poolsPerAxis, [0, 0, 0])
        XCTAssertEqual(b.levels, 1)
    }

    func testPatchIsPaddedToTheDivisor() {
        // [100, 70, 50]: sizes [50, 35, 25] → [25, 18, 13] → [13, 9, 7] → (z < 8) x, y: [7, 5, 7] → stop.
        // Pools [4, 4, 3], divisor [16, 16, 8]: 100 → 112, 70 → 80, 50 → 56.
        let t = PlanningRules.topology(spacing: [1, 1, 1], patch: [100, 70, 50])
        XCTAssertEqual(t.poolsPerAxis, [4, 4, 3])
        XCTAssertEqual(t.patch, [112, 80, 56])
    }

    func testReductionRecomputesTheDivisor() {
        // Median [160, 160, 128], patch 160³: ratios [1, 1, 1.25] → z shrinks by 32 to 128.
        // Then ratios [1, 1, 1] → the last axis on ties (z): 128 − 32 = 96 pools only 4 times, so the
        // divisor is recomputed as 16 and z = 128 − 16 = 112 (nnU-Net's comment: do not skip sizes).
        let m = [160, 160, 128]
        let t0 = PlanningRules.topology(spacing: [1, 1, 1], patch: [160, 160, 160])
        let t1 = PlanningRules.reduced(t0, spacing: [1, 1, 1], medianShape: m)
        XCTAssertEqual(t1?.patch, [160, 160, 128])
        let t2 = t1.flatMap { PlanningRules.reduced($0, spacing: [1, 1, 1], medianShape: m) }
        XCTAssertEqual(t2?.patch, [160, 160, 112])
        XCTAssertEqual(t2?.poolsPerAxis, [5, 5, 4])
    }

    func testPatchSequenceShrinksMonotonically() {
        let s = PlanningRules.patchSequence(spacing: [0.8, 0.8, 3], medianShape: [200, 200, 40])
        XCTAssertGreaterThan(s.count, 3)
        for (a, b) in zip(s, s.dropFirst()) {
            XCTAssertLessThan(b.patch.reduce(1, *), a.patch.reduce(1, *))
            for axis in 0..<3 { XCTAssertEqual(b.patch[axis] % b.divisor[axis], 0) }
        }
    }

    // MARK: budget

    func testTimeModelCountsStepsValidationAndStartup() {
        // 64 cases, batch 2: 32 iterations per epoch. 25 epochs at val_every 10: validations after
        // epochs 10, 20 and 25 = 3. 100 windows × 0.5 s = 50 s each. 10 + 25·32·2 + 3·50 = 1760 s.
        let m = TimeModel(trainingCases: 64, batch: 2, ranks: 1, startupSeconds: 10, validationWindows: 100)
        XCTAssertEqual(m.iterationsPerEpoch, 32)
        XCTAssertEqual(TimeModel.validations(epochs: 25, every: 10), 3)
        XCTAssertEqual(m.seconds(epochs: 25, stepSeconds: 2, forwardSeconds: 0.5, validationEvery: 10), 1760, accuracy: 1e-9)
        XCTAssertEqual(m.epochsFitting(budgetSeconds: 1760, stepSeconds: 2, forwardSeconds: 0.5, validationEvery: 10,
                                       maxEpochs: 1000), 25)
        XCTAssertEqual(m.epochsFitting(budgetSeconds: 1759, stepSeconds: 2, forwardSeconds: 0.5, validationEvery: 10,
                                       maxEpochs: 1000), 24)
        // One epoch takes 64 s: 50 s of validation is 78 % of it; under 10 % needs every ⌈50 / 6.4⌉ = 8 → 10 (floor).
        XCTAssertEqual(m.validationEvery(stepSeconds: 2, forwardSeconds: 0.5), 10)
        // 100 windows × 5 s = 500 s: ⌈500 / 6.4⌉ = 79 epochs.
        XCTAssertEqual(m.validationEvery(stepSeconds: 2, forwardSeconds: 5), 79)
    }

    func testRanksShortenEpochsAndAddTheRingAllreduce() {
        // docs/scaling.md: T(R) = 2(R−1)/R·S/1.25e9 + 2(R−1)·50e-6. 16 546 921 parameters (S = 66 187 684 B), R = 8:
        // 2·7/8·66 187 684/1.25e9 = 0.0926627576 s, + 14·50e-6 = 0.0007 → 0.0933627576 s (the doc's 93 ms).
        XCTAssertEqual(TimeModel.allreduceSeconds(parameters: 16_546_921, ranks: 8), 0.0933627576, accuracy: 1e-9)
        XCTAssertEqual(TimeModel.allreduceSeconds(parameters: 16_546_921, ranks: 1), 0)
        // 64 cases, batch 2 per rank, 4 ranks: ⌈64 / 8⌉ = 8 iterations per epoch.
        XCTAssertEqual(TimeModel(trainingCases: 64, batch: 2, ranks: 4, startupSeconds: 0, validationWindows: 0).iterationsPerEpoch, 8)
    }

    func testPercentileIsNumpysLinear() {
        // np.percentile([1, 2, 3, 4], 50) = 2.5; ([10, 20, 30], 99.5) = 20 + 0.99·10 = 29.9.
        XCTAssertEqual(PlanningRules.percentile([4, 1, 3, 2], 50), 2.5)
        XCTAssertEqual(PlanningRules.percentile([10, 20, 30], 99.5), 29.9, accuracy: 1e-12)
    }

    func testCandidatesAreOrderedByLadderThenPatch() {
        let small = PlanningRules.topology(spacing: [1, 1, 1], patch: [32, 32, 32])
        let big = PlanningRules.topology(spacing: [1, 1, 1], patch: [64, 64, 64])
        let c = BudgetRule.ordered([
            Candidate(topology: small, features: [32, 64, 128, 256]),
            Candidate(topology: big, features: [16, 32, 64, 128, 256]),
            Candidate(topology: big, features: [32, 64, 128, 256, 320]),
        ])
        // nnU-Net's ladder (base 32) at every patch before any narrower ladder.
        XCTAssertEqual(c.map(\.patch), [[64, 64, 64], [32, 32, 32], [64, 64, 64]])
        XCTAssertEqual(c.map { $0.features[0] }, [32, 32, 16])
    }
}
