import CKernels
import XCTest
@testable import Tensor

/// The AVX-512 weight transforms that write the packed GEMM order directly
/// (`WinogradWeightPreparation.packed`, winograd_weights_avx512.c) against the Swift transforms
/// (`WinogradWeightTransforms.transform`, `WinogradF43.transformWeights`, themselves checked
/// against the Double definition in WinogradWeightTransformTests) followed by the packing pass
/// `dro_winograd_pack_weights`.
///
/// Tolerance: none — same operations per lane in the same order (Float for F(2,3), Double
/// rounded once for F(4,3)), so every bit must match, signs of zero included (small-integer
/// weights make sums cancel to zero). The buffer is pre-filled with a sentinel on both sides.
final class WinogradPackedWeightTests: XCTestCase {
    /// (cout, cin): one row or column, panel tails (mr = 1 … 7), several panels, M ≠ K.
    static let shapes = [(1, 1), (1, 9), (7, 1), (3, 5), (8, 8), (13, 70), (64, 32), (70, 9), (17, 16)]

    override func setUpWithError() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 on this CPU (or DRO_PORTABLE_KERNELS=1)")
    }

    func check(_ tile: WinogradWeightPreparation.Tile) {
        let components = tile == .f23 ? WinogradWeightTransforms.components : WinogradF43.components
        let sentinel = WinogradTransformCTests.sentinel
        for (k, (cout, cin)) in Self.shapes.enumerated() { for flip in [false, true] { for integers in [false, true] {
            let w = WinogradTransformCTests.data(cout * cin * 27, seed: UInt64(70 + k), integers: integers)
            let count = components * cout * cin
            var want = [Float](repeating: sentinel, count: count + 16), got = want
            let (m, kk) = flip ? (cin, cout) : (cout, cin)
            switch tile {
            case .f23: WinogradWeightTransforms.transform(w: w, cout: cout, cin: cin, flipTranspose: flip, u: &want)
            case .f43: WinogradF43.transformWeights(w, cout: cout, cin: cin, flipTranspose: flip, u: &want)
            }
            dro_winograd_pack_weights(&want, m, kk, components)
            WinogradWeightPreparation.packed(tile, w: w, cout: cout, cin: cin, flipTranspose: flip, u: &got)
            WinogradTransformCTests.assertBitIdentical(want, got, "\(tile) \(cout)×\(cin) flip \(flip) integers \(integers)")
        } } }
    }

    func testF23MatchesSwiftTransformThenPack() { check(.f23) }

    func testF43MatchesSwiftTransformThenPack() { check(.f43) }
}
