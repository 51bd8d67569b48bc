import XCTest
@testable import Tensor

/// The F(2,3) forward and input gradient of few-tile layers (`WinogradFewTilesForward`: one
/// chunk of all tiles, transforms split by channel, GEMMs by component) against the chunked
/// path: the same arithmetic per value, so the same bits (outputs, and the norm statistics the
/// forward gathers), for 1–3 workers. It runs with the AVX-512 transforms only (unpadded rows).
final class WinogradFewTilesForwardTests: XCTestCase {
    typealias Shape = WinogradConv3dTests.Shape

    /// The fetal 6³ bottleneck at few channels, odd extents and one-tile axes, Cin ≠ Cout, batch 1 and 2.
    static let shapes = [
        Shape(n: 2, cin: 24, cout: 20, d: 6, h: 6, w: 6),
        Shape(n: 1, cin: 5, cout: 7, d: 3, h: 5, w: 7),
        Shape(n: 2, cin: 3, cout: 4, d: 1, h: 2, w: 9),
        Shape(n: 1, cin: 33, cout: 17, d: 4, h: 4, w: 4),
    ]

    override func setUp() {
        super.setUp()
        addTeardownBlock { WinogradFewTilesForward.mode = .auto }
    }

    private func random(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
    }

    /// (output, mean, rstd) of the forward with statistics, or (dx, [], []) of the input gradient.
    private func run(_ s: Shape, mode: WinogradFewTilesForward.Mode, threads: Int, backward: Bool,
                     x: [Float], w: [Float], b: [Float]) -> (out: [Float], mean: [Float], rstd: [Float]) {
        WinogradFewTilesForward.mode = mode
        var tuning = WinogradTuning.standard
        tuning.threads = threads
        let voxels = s.d * s.h * s.w
        let workspace = WinogradF43Tests.staleWorkspace()
        if backward {
            var dx = [Float](repeating: .nan, count: s.n * s.cin * voxels)
            WinogradConv3d.backwardInput(dy: x, weight: w, dx: &dx, n: s.n, cin: s.cin, cout: s.cout,
                                         d: s.d, h: s.h, width: s.w, workspace: workspace, tuning: tuning)
            return (dx, [], [])
        }
        var y = [Float](repeating: .nan, count: s.n * s.cout * voxels)
        var mean = [Float](repeating: .nan, count: s.n * s.cout), rstd = mean
        mean.withUnsafeMutableBufferPointer { m in
            rstd.withUnsafeMutableBufferPointer { r in
                WinogradConv3d.forward(x: x, weight: w, bias: b, y: &y, n: s.n, cin: s.cin, cout: s.cout,
                                       d: s.d, h: s.h, width: s.w, workspace: workspace, tuning: tuning,
                                       statistics: WinogradNormStatistics(mean: m.baseAddress!, rstd: r.baseAddress!,
                                                                          eps: 1e-5))
            }
        }
        return (y, mean, rstd)
    }

    private func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }

    func testSameBitsAsChunkedPath() throws {
        guard WinogradTransformsC.preferred == .avx512 else {
            throw XCTSkip("the few-tiles forward runs with the AVX-512 transforms only")
        }
        for (i, s) in Self.shapes.enumerated() {
            let voxels = s.d * s.h * s.w
            let w = random(s.cout * s.cin * 27, seed: UInt64(10 + i)), b = random(s.cout, seed: UInt64(20 + i))
            for backward in [false, true] {
                let x = random(s.n * (backward ? s.cout : s.cin) * voxels, seed: UInt64(30 + i))
                let reference = run(s, mode: .off, threads: 2, backward: backward, x: x, w: w, b: b)
                XCTAssertFalse(reference.out.contains { $0.isNaN }, "\(s) backward \(backward): reference")
                for threads in 1...3 {
                    let before = WinogradFewTilesForward.calls.load(ordering: .relaxed)
                    let got = run(s, mode: .on, threads: threads, backward: backward, x: x, w: w, b: b)
                    XCTAssertEqual(WinogradFewTilesForward.calls.load(ordering: .relaxed), before + 1,
                                   "\(s) backward \(backward): the few-tiles path did not run")
                    XCTAssertEqual(bits(got.out), bits(reference.out), "\(s) backward \(backward) threads \(threads)")
                    XCTAssertEqual(bits(got.mean), bits(reference.mean), "\(s) threads \(threads): mean")
                    XCTAssertEqual(bits(got.rstd), bits(reference.rstd), "\(s) threads \(threads): rstd")
                }
            }
        }
    }

    /// The automatic rule: the fetal 6³ layer (54 tiles, 320 → 320, 2 workers) takes it, the 12³
    /// 256 → 256 layer (432 tiles) does not.
    func testAutomaticRule() {
        WinogradFewTilesForward.mode = .auto
        XCTAssertTrue(WinogradFewTilesForward.applies(tiles: 54, cin: 320, cout: 320, workers: 2))
        XCTAssertFalse(WinogradFewTilesForward.applies(tiles: 432, cin: 256, cout: 256, workers: 2))
        WinogradFewTilesForward.mode = .off
        XCTAssertFalse(WinogradFewTilesForward.applies(tiles: 54, cin: 320, cout: 320, workers: 2))
    }
}
