import CKernels
import XCTest
@testable import Tensor

/// Speed of the per-call weight preparation of a forward / input-gradient pass: the Swift
/// transform followed by the packing pass (`dro_winograd_pack_weights`) against the AVX-512
/// kernel writing the packed order directly (`dro_winograd_f23/f43_weights_packed_avx512`), on
/// the networks' shapes with M ≥ 64 (the packed GEMM's). 1 thread, thread CPU time, the two
/// taking turns, best of DRO_WINOGRAD_REPEATS (default 7). Prints ms per call; asserts nothing
/// about speed. Runs only with DRO_WINOGRAD_BENCH=1:
///   DRO_WINOGRAD_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter WinogradWeightPreparationBenchmark
final class WinogradWeightPreparationBenchmarkTests: XCTestCase {
    func testPreparationSpeed() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["DRO_WINOGRAD_BENCH"] == "1",
                          "set DRO_WINOGRAD_BENCH=1 to run the weight preparation benchmark")
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 on this CPU (or DRO_PORTABLE_KERNELS=1)")
        // (tile, cout, cin): reference 16³ F(4,3) 64 ch, 8³ F(2,3) 128 ch; fetal 48³ F(4,3)
        // 128 → 64, 24³ 256 → 128, 12³ 256 and 512 → 256, 6³ 320.
        let saved = Parallel.defaultThreads
        Parallel.configure(threads: 1)
        defer { Parallel.configure(threads: saved) }
        let shapes: [(WinogradWeightPreparation.Tile, Int, Int)] = [
            (.f43, 64, 64), (.f43, 64, 128), (.f23, 128, 128), (.f23, 128, 256), (.f23, 256, 256),
            (.f23, 256, 512), (.f23, 320, 320),
        ]
        for (tile, cout, cin) in shapes {
            let components = tile == .f23 ? WinogradWeightTransforms.components : WinogradF43.components
            let w = WinogradTransformCTests.data(cout * cin * 27, seed: 5, integers: false)
            var u = [Float](repeating: 0, count: components * cout * cin)
            for flip in [false, true] {
                let (m, k) = flip ? (cin, cout) : (cout, cin)
                let best = WinogradTransformCBenchmarkTests.alternating([
                    {
                        switch tile {
                        case .f23: WinogradWeightTransforms.transform(w: w, cout: cout, cin: cin, flipTranspose: flip, u: &u)
                        case .f43: WinogradF43.transformWeights(w, cout: cout, cin: cin, flipTranspose: flip, u: &u)
                        }
                        dro_winograd_pack_weights(&u, m, k, components)
                    },
                    {
                        let panels = (m + 7) / 8
                        switch tile {
                        case .f23: dro_winograd_f23_weights_packed_avx512(w, cout, cin, flip ? 1 : 0, &u, 0, panels)
                        case .f43: dro_winograd_f43_weights_packed_avx512(w, cout, cin, flip ? 1 : 0, &u, 0, panels)
                        }
                    },
                ])
                print(String(format: "[weight-prep] %@ %4d × %4d %@: Swift + pack %7.3f ms, AVX-512 packed %7.3f ms (%.2f×)",
                             "\(tile)", cout, cin, flip ? "input gradient" : "forward       ",
                             best[0] * 1e3, best[1] * 1e3, best[1] / best[0]))
            }
        }
    }

    /// Whole F(2,3) layer calls (forward, input gradient, weight gradient; batch 2, 1 thread) with
    /// rows padded to whole 4-lane vectors against unpadded rows (`WinogradPlan.rowStride`), taking
    /// turns, best of DRO_WINOGRAD_REPEATS. 8³ (4 tiles per row, no padding either way) is the
    /// control. Prints ms per call; asserts nothing about speed.
    func testUnpaddedRowsLayerSpeed() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["DRO_WINOGRAD_BENCH"] == "1",
                          "set DRO_WINOGRAD_BENCH=1 to run the layer benchmark")
        try XCTSkipUnless(WinogradTransformsC.preferred == .avx512, "unpadded rows need the AVX-512 transforms")
        let saved = Parallel.defaultThreads
        Parallel.configure(threads: 1)
        defer { Parallel.configure(threads: saved) }
        // (cin, cout, extent): fetal enc3.1 / dec3.1, dec3.0, enc4.1; reference enc3.1 (control).
        let shapes = [(256, 256, 12), (512, 256, 12), (320, 320, 6), (128, 128, 8)]
        for (cin, cout, e) in shapes {
            let n = 2, voxels = e * e * e
            let x = WinogradTransformCTests.data(n * cin * voxels, seed: 1, integers: false)
            let dy = WinogradTransformCTests.data(n * cout * voxels, seed: 2, integers: false)
            let w = WinogradTransformCTests.data(cout * cin * 27, seed: 3, integers: false)
            var y = [Float](repeating: 0, count: n * cout * voxels), dx = x, dw = w
            let workspace = Workspace()
            var padded = WinogradTuning.standard, unpadded = WinogradTuning.standard
            padded.threads = 1; unpadded.threads = 1
            padded.unpaddedRows = false; unpadded.unpaddedRows = true
            func forward(_ t: WinogradTuning) -> () -> Void {
                { WinogradConv3d.forward(x: x, weight: w, bias: nil, y: &y, n: n, cin: cin, cout: cout, d: e, h: e,
                                         width: e, workspace: workspace, tuning: t) }
            }
            func input(_ t: WinogradTuning) -> () -> Void {
                { WinogradConv3d.backwardInput(dy: dy, weight: w, dx: &dx, n: n, cin: cin, cout: cout, d: e, h: e,
                                               width: e, workspace: workspace, tuning: t) }
            }
            func weight(_ t: WinogradTuning) -> () -> Void {
                { WinogradConv3d.backwardWeight(x: x, dy: dy, dweight: &dw, dbias: nil, n: n, cin: cin, cout: cout,
                                                d: e, h: e, width: e, workspace: workspace, tuning: t) }
            }
            let best = WinogradTransformCBenchmarkTests.alternating([
                forward(padded), forward(unpadded), input(padded), input(unpadded), weight(padded), weight(unpadded),
            ])
            print(String(format: "[unpadded-rows] %3d → %3d at %2d³: forward %.2f / %.2f ms (%.2f×), input gradient "
                         + "%.2f / %.2f ms (%.2f×), weight gradient %.2f / %.2f ms (%.2f×) (padded / unpadded)",
                         cin, cout, e, best[0] * 1e3, best[1] * 1e3, best[1] / best[0], best[2] * 1e3, best[3] * 1e3,
                         best[3] / best[2], best[4] * 1e3, best[5] * 1e3, best[5] / best[4]))
        }
    }
}
