import CKernels
import Common
import XCTest
@testable import Tensor

/// The F(4,3) weight gradient with the layer input given as z and its activation
/// LeakyReLU(z·scale + shift) computed inside the input transform
/// (`dro_winograd_f43_input_row_activated_avx512`), against the activation written first by
/// `InstanceNormLeakyReLU.apply` and the plain weight gradient: the same operations in the same
/// order, so dW and db must be the same bits.
final class WinogradF43FusedActivationTests: XCTestCase {
    typealias Shape = WinogradConv3dTests.Shape

    /// Widths where the one-row AVX-512 transform runs (not 13–16 / 29–32: row groups): partial
    /// tiles and vectors (W = 7, 11, 37, 50), one tile (W = 1), the fetal layers' 24-tile rows
    /// (W = 96); odd depths and heights (zero padding above and below), batch 1–2.
    static let shapes = [
        Shape(n: 2, cin: 3, cout: 4, d: 5, h: 6, w: 7),
        Shape(n: 1, cin: 2, cout: 3, d: 1, h: 1, w: 1),
        Shape(n: 1, cin: 5, cout: 3, d: 9, h: 2, w: 11),
        Shape(n: 2, cin: 16, cout: 8, d: 4, h: 5, w: 37),
        Shape(n: 2, cin: 6, cout: 5, d: 7, h: 3, w: 50),
        Shape(n: 2, cin: 4, cout: 3, d: 5, h: 6, w: 96),
    ]

    static var tunings: [(String, WinogradTuning)] {
        var list: [(String, WinogradTuning)] = [
            ("default", WinogradF43.standardTuning),
            ("one-row chunks, 2 workers", WinogradTuning(chunkBytes: 0, minimumChunkTiles: 1, threads: 2)),
        ]
        if WinogradGEMM.isSupported(.avx512) {
            list.append(("AVX-512 GEMM, 2 workers", WinogradTuning(minimumChunkTiles: 16, threads: 2, gemm: .avx512)))
        }
        return list
    }

    func testActivatedInputIsBitIdenticalToWrittenActivation() throws {
        guard WinogradF43.fusesInputActivation(width: 7) else {
            throw XCTSkip("no AVX-512 one-row transform (or DRO_PORTABLE_KERNELS=1 / DRO_WINOGRAD_FUSED_ACTIVATION=off)")
        }
        var rng = SplitMix64(seed: 41)
        let slope: Float = 0.01
        for s in Self.shapes {
            XCTAssertTrue(WinogradF43.fusesInputActivation(width: s.w), "width \(s.w)")
            let voxels = s.d * s.h * s.w, rows = s.n * s.cin
            // z around its per-row mean so that the activation takes both branches.
            let z = rng.values(rows * voxels).map { 3 * $0 + 0.25 }
            let dy = rng.values(s.n * s.cout * voxels)
            let gamma = rng.values(s.cin).map { 0.5 + abs($0) }, beta = rng.values(s.cin)
            let mean = rng.values(rows).map { 0.2 * $0 }, rstd = rng.values(rows).map { 0.3 + abs($0) }
            var a = [Float](repeating: .nan, count: rows * voxels)
            InstanceNormLeakyReLU.apply(x: z, gamma: gamma, beta: beta, mean: mean, rstd: rstd, y: &a, batch: s.n,
                                        channels: s.cin, voxels: voxels, slope: slope, threads: 1)
            XCTAssertTrue(a.contains { $0 < 0 } && a.contains { $0 > 0 })
            var scale = [Float](repeating: 0, count: rows), shift = [Float](repeating: 0, count: rows)
            InstanceNormLeakyReLU.rowConstants(gamma: gamma, beta: beta, mean: mean, rstd: rstd, batch: s.n,
                                               channels: s.cin, scale: &scale, shift: &shift)
            for (name, tuning) in Self.tunings {
                let start = (0..<(s.cout * s.cin * 27)).map { Float($0 % 7) * 0.125 }
                var want = start, wantBias = [Float](repeating: 0.5, count: s.cout)
                WinogradF43.backwardWeight(x: a, dy: dy, dweight: &want, dbias: &wantBias, n: s.n, cin: s.cin,
                                           cout: s.cout, d: s.d, h: s.h, width: s.w,
                                           workspace: WinogradF43Tests.staleWorkspace(), tuning: tuning)
                var got = start, gotBias = [Float](repeating: 0.5, count: s.cout)
                scale.withUnsafeBufferPointer { sc in
                    shift.withUnsafeBufferPointer { sh in
                        let act = WinogradInputActivation(scale: sc.baseAddress!, shift: sh.baseAddress!, slope: slope)
                        WinogradF43.backwardWeight(x: z, dy: dy, dweight: &got, dbias: &gotBias, n: s.n, cin: s.cin,
                                                   cout: s.cout, d: s.d, h: s.h, width: s.w,
                                                   workspace: WinogradF43Tests.staleWorkspace(), tuning: tuning,
                                                   activation: act)
                    }
                }
                XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(s) \(name): dW")
                XCTAssertEqual(gotBias.map(\.bitPattern), wantBias.map(\.bitPattern), "\(s) \(name): db")
                // Without the activation the result differs (the test sees whether it is applied).
                var plain = start
                WinogradF43.backwardWeight(x: z, dy: dy, dweight: &plain, dbias: nil, n: s.n, cin: s.cin,
                                           cout: s.cout, d: s.d, h: s.h, width: s.w, workspace: Workspace(),
                                           tuning: tuning)
                XCTAssertNotEqual(plain, want, "\(s) \(name)")
            }
        }
    }

    /// The C kernel alone on every tile row against the plain kernel on the written activation,
    /// including NaN and ±0 voxels (NaN·slope stays NaN, −0 stays −0 as in the Swift row kernel),
    /// from NaN-filled outputs.
    func testKernelMatchesPlainTransformOfActivation() throws {
        guard CPUFeatures.avx512, WinogradF43Transforms.kernel == .avx512 else { throw XCTSkip("no AVX-512") }
        var rng = SplitMix64(seed: 42)
        for (d, h, w) in [(5, 6, 7), (6, 3, 96), (5, 5, 101), (3, 2, 64), (1, 1, 1)] {
            let plan = WinogradF43Plan(batch: 1, d: d, h: h, w: w, channels: 1, tuning: WinogradF43.standardTuning)
            let voxels = d * h * w
            var z = rng.values(voxels)
            z[0] = .nan; if voxels > 2 { z[1] = -0.0; z[2] = 0 }
            let scale: Float = 1.7, shift: Float = -0.3, slope: Float = 0.01
            var a = [Float](repeating: 0, count: voxels)
            NormRowKernels.affineLeaky(z, &a, count: voxels, scale: scale, shift: shift, slope: slope)
            let xi = plan.vectorTiles + 16
            var scratch = [Float](repeating: .nan, count: plan.scratchFloats)
            for td in 0..<plan.tilesD {
                for th in 0..<plan.tilesH {
                    var want = [Float](repeating: .nan, count: 216 * xi)
                    var got = want
                    dro_winograd_f43_input_row_avx512(a, Int64(d), Int64(h), Int64(w), Int64(plan.vectorTiles),
                                                      Int64(td), Int64(th), &want, Int64(xi), &scratch, nil, 0, 0)
                    dro_winograd_f43_input_row_activated_avx512(z, Int64(d), Int64(h), Int64(w),
                                                                Int64(plan.vectorTiles), Int64(td), Int64(th), &got,
                                                                Int64(xi), &scratch, nil, 0, 0, scale, shift, slope)
                    XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(d)×\(h)×\(w) row \(td),\(th)")
                }
            }
        }
    }
}
