import Common
import XCTest
@testable import Tensor

/// WinogradConv3d against a naive direct 3×3×3 convolution (stride 1, padding 1) evaluated in
/// Double in this file — the oracle shares no code with the Winograd path.
///
/// Tolerance: 1e-4 × max |reference| (`relativeTolerance`). F(2,3) in float32 rounds each of its
/// ≤ Cin·64 products and the transform sums (entries ≤ 1 in Bᵀ/Aᵀ, ½ in G); with Cin ≤ 16 the
/// expected error is ~1e-6 of the largest value, so 1e-4 leaves two orders of margin while any
/// wrong tap, missed border or wrong tile offset gives errors of order 1e-1.
final class WinogradConv3dTests: XCTestCase {
    static let relativeTolerance = 1e-4

    struct Shape { let n, cin, cout, d, h, w: Int }

    /// Awkward shapes: odd extents, one-voxel axes, Cin ≠ Cout, rows wider than one lane vector
    /// (W = 11 → 6 tiles, W = 18 → 9 tiles; W = 18 also has interior vectors), batch 2.
    static let shapes = [
        Shape(n: 2, cin: 3, cout: 4, d: 5, h: 6, w: 7),
        Shape(n: 1, cin: 2, cout: 3, d: 1, h: 1, w: 1),
        Shape(n: 2, cin: 4, cout: 2, d: 1, h: 3, w: 2),
        Shape(n: 1, cin: 5, cout: 3, d: 3, h: 1, w: 11),
        Shape(n: 2, cin: 16, cout: 8, d: 4, h: 5, w: 18),
        Shape(n: 2, cin: 1, cout: 2, d: 6, h: 5, w: 9),   // one input channel: rows split over workers
    ]

    /// Default tuning (unpadded rows where the AVX-512 transforms run), the padded layout, plus
    /// one-row chunks (many chunks, last chunk partial) under both threadings and unpadded.
    static let tunings: [(String, WinogradTuning)] = [
        ("default", .standard),
        ("rows padded to whole vectors", WinogradTuning()),
        ("one-row chunks, unpadded rows",
         WinogradTuning(chunkBytes: 0, minimumChunkTiles: 1, threading: .workersOwnChunks, threads: 2,
                        unpaddedRows: true)),
        ("one-row chunks, workers own chunks",
         WinogradTuning(chunkBytes: 0, minimumChunkTiles: 1, threading: .workersOwnChunks, threads: 2)),
        ("one-row chunks, BLAS threads",
         WinogradTuning(chunkBytes: 0, minimumChunkTiles: 1, threading: .blasThreads, threads: 2)),
    ]

    // MARK: - Oracle (Double, direct summation)

    static func at(_ s: Shape, _ c: Int, _ channels: Int, _ n: Int, _ z: Int, _ y: Int, _ x: Int) -> Int {
        (((n * channels + c) * s.d + z) * s.h + y) * s.w + x
    }

    static func inside(_ s: Shape, _ z: Int, _ y: Int, _ x: Int) -> Bool {
        z >= 0 && z < s.d && y >= 0 && y < s.h && x >= 0 && x < s.w
    }

    /// y[n, co, p] = bias[co] + Σ_ci Σ_k w[co, ci, k] x[n, ci, p + k − 1].
    static func directForward(_ s: Shape, x: [Float], w: [Float], bias: [Float]) -> [Double] {
        var y = [Double](repeating: 0, count: s.n * s.cout * s.d * s.h * s.w)
        for n in 0..<s.n { for co in 0..<s.cout { for z in 0..<s.d { for yy in 0..<s.h { for xx in 0..<s.w {
            var sum = Double(bias[co])
            for ci in 0..<s.cin { for kz in 0..<3 { for ky in 0..<3 { for kx in 0..<3 {
                let (iz, iy, ix) = (z + kz - 1, yy + ky - 1, xx + kx - 1)
                guard inside(s, iz, iy, ix) else { continue }
                let tap: Int = (co * s.cin + ci) * 27 + kz * 9 + ky * 3 + kx
                sum += Double(w[tap]) * Double(x[at(s, ci, s.cin, n, iz, iy, ix)])
            } } } }
            y[at(s, co, s.cout, n, z, yy, xx)] = sum
        } } } } }
        return y
    }

    /// dx[n, ci, q] = Σ_co Σ_k w[co, ci, k] dy[n, co, q − k + 1].
    static func directInputGradient(_ s: Shape, dy: [Float], w: [Float]) -> [Double] {
        var dx = [Double](repeating: 0, count: s.n * s.cin * s.d * s.h * s.w)
        for n in 0..<s.n { for ci in 0..<s.cin { for z in 0..<s.d { for yy in 0..<s.h { for xx in 0..<s.w {
            var sum = 0.0
            for co in 0..<s.cout { for kz in 0..<3 { for ky in 0..<3 { for kx in 0..<3 {
                let (oz, oy, ox) = (z - kz + 1, yy - ky + 1, xx - kx + 1)
                guard inside(s, oz, oy, ox) else { continue }
                let tap: Int = (co * s.cin + ci) * 27 + kz * 9 + ky * 3 + kx
                sum += Double(w[tap]) * Double(dy[at(s, co, s.cout, n, oz, oy, ox)])
            } } } }
            dx[at(s, ci, s.cin, n, z, yy, xx)] = sum
        } } } } }
        return dx
    }

    /// dw[co, ci, k] = Σ_n Σ_p dy[n, co, p] x[n, ci, p + k − 1]; dbias[co] = Σ_n Σ_p dy[n, co, p].
    static func directWeightGradient(_ s: Shape, x: [Float], dy: [Float]) -> (dw: [Double], db: [Double]) {
        var dw = [Double](repeating: 0, count: s.cout * s.cin * 27)
        var db = [Double](repeating: 0, count: s.cout)
        for n in 0..<s.n { for co in 0..<s.cout { for z in 0..<s.d { for yy in 0..<s.h { for xx in 0..<s.w {
            let g = Double(dy[at(s, co, s.cout, n, z, yy, xx)])
            db[co] += g
            for ci in 0..<s.cin { for kz in 0..<3 { for ky in 0..<3 { for kx in 0..<3 {
                let (iz, iy, ix) = (z + kz - 1, yy + ky - 1, xx + kx - 1)
                guard inside(s, iz, iy, ix) else { continue }
                let tap: Int = (co * s.cin + ci) * 27 + kz * 9 + ky * 3 + kx
                let value: Double = Double(x[at(s, ci, s.cin, n, iz, iy, ix)])
                dw[tap] += g * value
            } } } }
        } } } } }
        return (dw, db)
    }

    // MARK: - Helpers

    /// Worst |got − want| divided by max |want|; infinity when any value is NaN or infinite
    /// (`max()` would skip a NaN, so an element left unwritten would otherwise go unnoticed).
    static func relativeError(_ got: [Float], _ want: [Double]) -> Double {
        guard got.count == want.count, got.allSatisfy({ $0.isFinite }) else { return .infinity }
        let scale = max(want.map { abs($0) }.max() ?? 0, 1e-30)
        return zip(got, want).map { abs(Double($0) - $1) }.max().map { $0 / scale } ?? 0
    }

    // MARK: - Tests

    func testForwardMatchesDirectConvolution() {
        var rng = SplitMix64(seed: 1)
        let workspace = Workspace()
        var worst = 0.0
        for s in Self.shapes {
            let x = rng.values(s.n * s.cin * s.d * s.h * s.w)
            let w = rng.values(s.cout * s.cin * 27), bias = rng.values(s.cout)
            let want = Self.directForward(s, x: x, w: w, bias: bias)
            for (name, tuning) in Self.tunings {
                var y = [Float](repeating: .nan, count: want.count)   // NaN: every voxel must be written
                WinogradConv3d.forward(x: x, weight: w, bias: bias, y: &y, n: s.n, cin: s.cin, cout: s.cout,
                                       d: s.d, h: s.h, width: s.w, workspace: workspace, tuning: tuning)
                let e = Self.relativeError(y, want)
                worst = max(worst, e)
                XCTAssertLessThan(e, Self.relativeTolerance, "forward \(s) \(name)")
            }
        }
        print("Winograd forward: worst relative error \(worst)")
    }

    func testPublicForwardWithoutBias() {
        var rng = SplitMix64(seed: 2)
        let s = Self.shapes[0]
        let x = rng.values(s.n * s.cin * s.d * s.h * s.w), w = rng.values(s.cout * s.cin * 27)
        let want = Self.directForward(s, x: x, w: w, bias: [Float](repeating: 0, count: s.cout))
        var y = [Float](repeating: .nan, count: want.count)
        WinogradConv3d.forward(x: x, weight: w, bias: nil, y: &y, n: s.n, cin: s.cin, cout: s.cout,
                               d: s.d, h: s.h, width: s.w, workspace: Workspace())
        XCTAssertLessThan(Self.relativeError(y, want), Self.relativeTolerance)
    }

    func testBackwardInputMatchesDirectGradient() {
        var rng = SplitMix64(seed: 3)
        let workspace = Workspace()
        var worst = 0.0
        for s in Self.shapes {
            let dy = rng.values(s.n * s.cout * s.d * s.h * s.w), w = rng.values(s.cout * s.cin * 27)
            let want = Self.directInputGradient(s, dy: dy, w: w)
            for (name, tuning) in Self.tunings {
                var dx = [Float](repeating: .nan, count: want.count)
                WinogradConv3d.backwardInput(dy: dy, weight: w, dx: &dx, n: s.n, cin: s.cin, cout: s.cout,
                                             d: s.d, h: s.h, width: s.w, workspace: workspace, tuning: tuning)
                let e = Self.relativeError(dx, want)
                worst = max(worst, e)
                XCTAssertLessThan(e, Self.relativeTolerance, "backwardInput \(s) \(name)")
            }
        }
        print("Winograd backwardInput: worst relative error \(worst)")
    }

    func testBackwardWeightMatchesDirectGradientAndAccumulates() {
        var rng = SplitMix64(seed: 4)
        let workspace = Workspace()
        var worstW = 0.0, worstB = 0.0
        for s in Self.shapes {
            let x = rng.values(s.n * s.cin * s.d * s.h * s.w), dy = rng.values(s.n * s.cout * s.d * s.h * s.w)
            let (gw, gb) = Self.directWeightGradient(s, x: x, dy: dy)
            for (name, tuning) in Self.tunings {
                // Start from arbitrary values and call twice: expect start + 2 × gradient.
                let startW = rng.values(gw.count), startB = rng.values(gb.count)
                var dw = startW, db = startB
                for _ in 0..<2 {
                    WinogradConv3d.backwardWeight(x: x, dy: dy, dweight: &dw, dbias: &db, n: s.n, cin: s.cin,
                                                  cout: s.cout, d: s.d, h: s.h, width: s.w,
                                                  workspace: workspace, tuning: tuning)
                }
                let wantW = zip(startW, gw).map { Double($0) + 2 * $1 }
                let wantB = zip(startB, gb).map { Double($0) + 2 * $1 }
                // Scale by the gradient, not by start + gradient, so the start cannot mask errors.
                let scaleW = gw.map { abs(2 * $0) }.max()!, scaleB = gb.map { abs(2 * $0) }.max()!
                let eW = zip(dw, wantW).map { abs(Double($0) - $1) }.max()! / scaleW
                let eB = zip(db, wantB).map { abs(Double($0) - $1) }.max()! / scaleB
                worstW = max(worstW, eW); worstB = max(worstB, eB)
                XCTAssertLessThan(eW, Self.relativeTolerance, "backwardWeight dw \(s) \(name)")
                XCTAssertLessThan(eB, Self.relativeTolerance, "backwardWeight dbias \(s) \(name)")
            }
        }
        print("Winograd backwardWeight: worst relative error dw \(worstW), dbias \(worstB)")
    }

    /// Two workers over many chunks: the weight gradient must be bit-identical from call to call.
    func testBackwardWeightIsReproducibleWithTwoWorkers() {
        var rng = SplitMix64(seed: 6)
        let s = Self.shapes[4]
        let x = rng.values(s.n * s.cin * s.d * s.h * s.w), dy = rng.values(s.n * s.cout * s.d * s.h * s.w)
        let tuning = WinogradTuning(chunkBytes: 0, minimumChunkTiles: 1, threading: .workersOwnChunks, threads: 2)
        let workspace = Workspace()
        var results = [[Float]]()
        for _ in 0..<3 {
            var dw = [Float](repeating: 0, count: s.cout * s.cin * 27)
            WinogradConv3d.backwardWeight(x: x, dy: dy, dweight: &dw, dbias: nil, n: s.n, cin: s.cin, cout: s.cout,
                                          d: s.d, h: s.h, width: s.w, workspace: workspace, tuning: tuning)
            results.append(dw)
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }

    /// Rows are padded to whole lane vectors in the chunk buffers (WinogradPlan.rowStride). With an
    /// even W whose tile count is not a multiple of the lane count (W = 18 → 9 tiles, 3 padding
    /// columns; W = 2 → 1 tile, 3 padding columns) the input transform of a padding tile is not
    /// zero (it reads the last voxel), so the weight gradient is right only if the gradient
    /// transform writes zeros there. The workspace is filled with NaN first: any padding column
    /// or chunk element read before being written would turn the result into NaN. Batch 2,
    /// one-row chunks over two workers (chunk boundaries inside a sample) and the default plan.
    func testPaddingColumnsWithStaleWorkspace() {
        var rng = SplitMix64(seed: 9)
        let shapes = [Shape(n: 2, cin: 3, cout: 5, d: 3, h: 4, w: 18), Shape(n: 2, cin: 4, cout: 4, d: 2, h: 3, w: 2),
                      Shape(n: 2, cin: 2, cout: 3, d: 5, h: 3, w: 10)]
        for s in shapes {
            let x = rng.values(s.n * s.cin * s.d * s.h * s.w), dy = rng.values(s.n * s.cout * s.d * s.h * s.w)
            let w = rng.values(s.cout * s.cin * 27), bias = rng.values(s.cout)
            let wantY = Self.directForward(s, x: x, w: w, bias: bias)
            let wantX = Self.directInputGradient(s, dy: dy, w: w)
            let (wantW, _) = Self.directWeightGradient(s, x: x, dy: dy)
            for (name, tuning) in Self.tunings {
                let workspace = Workspace()
                for slot in 0..<2 { workspace.buffer(slot, count: 1 << 20).update(repeating: .nan, count: 1 << 20) }
                var y = [Float](repeating: .nan, count: wantY.count), dx = [Float](repeating: .nan, count: wantX.count)
                var dw = [Float](repeating: 0, count: wantW.count)
                WinogradConv3d.forward(x: x, weight: w, bias: bias, y: &y, n: s.n, cin: s.cin, cout: s.cout,
                                       d: s.d, h: s.h, width: s.w, workspace: workspace, tuning: tuning)
                WinogradConv3d.backwardInput(dy: dy, weight: w, dx: &dx, n: s.n, cin: s.cin, cout: s.cout,
                                             d: s.d, h: s.h, width: s.w, workspace: workspace, tuning: tuning)
                WinogradConv3d.backwardWeight(x: x, dy: dy, dweight: &dw, dbias: nil, n: s.n, cin: s.cin, cout: s.cout,
                                              d: s.d, h: s.h, width: s.w, workspace: workspace, tuning: tuning)
                XCTAssertLessThan(Self.relativeError(y, wantY), Self.relativeTolerance, "forward \(s) \(name)")
                XCTAssertLessThan(Self.relativeError(dx, wantX), Self.relativeTolerance, "backwardInput \(s) \(name)")
                XCTAssertLessThan(Self.relativeError(dw, wantW), Self.relativeTolerance, "backwardWeight \(s) \(name)")
            }
        }
    }

    func testBackwardWeightWithoutBiasLeavesOnlyWeights() {
        var rng = SplitMix64(seed: 5)
        let s = Self.shapes[3]
        let x = rng.values(s.n * s.cin * s.d * s.h * s.w), dy = rng.values(s.n * s.cout * s.d * s.h * s.w)
        let (gw, _) = Self.directWeightGradient(s, x: x, dy: dy)
        var dw = [Float](repeating: 0, count: gw.count)
        WinogradConv3d.backwardWeight(x: x, dy: dy, dweight: &dw, dbias: nil, n: s.n, cin: s.cin, cout: s.cout,
                                      d: s.d, h: s.h, width: s.w, workspace: Workspace())
        XCTAssertLessThan(Self.relativeError(dw, gw), Self.relativeTolerance)
    }
}

extension SplitMix64 {
    /// Uniform in [−1, 1).
    mutating func uniform() -> Float { Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) }
    mutating func values(_ count: Int) -> [Float] { (0..<count).map { _ in uniform() } }
}
