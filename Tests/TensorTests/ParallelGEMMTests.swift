import XCTest
@testable import Tensor

/// GEMMs split over our workers (`parallelSgemm`, OpenBLAS at one thread): the split against one
/// single-threaded sgemm call (bit for bit) and against a Double oracle, and the layers whose
/// GEMMs it splits, at sizes large enough to be split, for 1, 2 and 3 workers.
final class ParallelGEMMTests: XCTestCase {
    override func setUp() {
        super.setUp()
        Parallel.blasThreading = .workers
    }

    /// C = op(A)·op(B) + beta·C in Double, row-major, leading dimensions as in `sgemm`.
    static func oracle(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: [Float], lda: Int,
                       b: [Float], ldb: Int, beta: Float, c: [Float], ldc: Int) -> [Double] {
        var out = c.map(Double.init)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                out[i * ldc + j] = s + Double(beta) * Double(c[i * ldc + j])
            }
        }
        return out
    }

    /// Odd sizes, every transpose combination, beta 0 and 1, leading dimensions wider than the
    /// operands (C's too: the columns beyond n must stay untouched).
    func testSplitMatchesOneSingleThreadedCallBitForBit() {
        let shapes: [(m: Int, n: Int, k: Int)] = [(37, 1001, 403), (64, 777, 865), (5, 2999, 701), (129, 321, 517)]
        for (s, shape) in shapes.enumerated() {
            for transA in [false, true] {
                for transB in [false, true] {
                    for beta: Float in [0, 1] {
                        let (m, n, k) = shape
                        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 7
                        let a = floats(randomDoubles((transA ? k : m) * lda, seed: 10 + UInt64(s)))
                        let b = floats(randomDoubles((transB ? n : k) * ldb, seed: 20 + UInt64(s)))
                        let c0 = floats(randomDoubles(m * ldc, seed: 30 + UInt64(s)))
                        var single = c0
                        Parallel.withSerialBLAS {
                            a.withPtr { ap in b.withPtr { bp in
                                sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap, lda: lda, b: bp, ldb: ldb,
                                      beta: beta, c: &single, ldc: ldc)
                            }}
                        }
                        let reference = Self.oracle(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda,
                                                    b: b, ldb: ldb, beta: beta, c: c0, ldc: ldc)
                        let label = "\(shape) transA \(transA) transB \(transB) beta \(beta)"
                        // Float dot products of ≤ 865 terms in [-1, 1] against Double: ~1e-6 relative
                        // to the output scale; 1e-4 only guards against wrong columns or operands.
                        XCTAssertLessThan(worstRelativeError(single, reference), 1e-4, label)
                        for threads in 1...3 {
                            let parts = GEMMSplit.parts(m: m, n: n, k: k, threads: threads)
                            XCTAssertEqual(parts, threads, "\(label): the split must run with \(threads) workers")
                            var c = c0
                            a.withPtr { ap in b.withPtr { bp in
                                parallelSgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap, lda: lda,
                                              b: bp, ldb: ldb, beta: beta, c: &c, ldc: ldc, threads: threads)
                            }}
                            let differing = zip(c, single).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                            XCTAssertEqual(differing, 0, "\(label) threads \(threads)")
                        }
                    }
                }
            }
        }
    }

    /// Part boundaries: contiguous, on the granule, covering every column once; small GEMMs run
    /// as one call.
    func testPartsCoverTheColumnsOnce() {
        for n in [64, 65, 127, 128, 1000, 4097] {
            for parts in 1...4 {
                var previous = 0
                for p in 0..<parts {
                    let lo = GEMMSplit.boundary(p, parts: parts, n: n), hi = GEMMSplit.boundary(p + 1, parts: parts, n: n)
                    XCTAssertEqual(lo, previous)
                    XCTAssertEqual(lo % GEMMSplit.granule, 0)
                    XCTAssertLessThanOrEqual(lo, hi)
                    previous = hi
                }
                XCTAssertEqual(previous, n)
            }
        }
        XCTAssertEqual(GEMMSplit.parts(m: 16, n: 128, k: 16, threads: 2), 1, "tiny GEMM: one call")
        XCTAssertEqual(GEMMSplit.parts(m: 512, n: 100, k: 4096, threads: 2), 1, "fewer than 2 × 64 columns")
        XCTAssertEqual(GEMMSplit.parts(m: 64, n: 4096, k: 864, threads: 2), 2)
    }

    func testConfigureHoldsOpenBLASAtOneThreadUnlessAskedFor() {
        let saved = Parallel.defaultThreads
        defer { Parallel.blasThreading = .workers; Parallel.configure(threads: saved) }
        Parallel.configure(threads: 2)
        XCTAssertEqual(Parallel.defaultThreads, 2)
        XCTAssertEqual(Parallel.blasThreadCount, 1)
        Parallel.blasThreading = .openBLAS
        Parallel.configure(threads: 2)
        XCTAssertEqual(Parallel.blasThreadCount, 2)
        XCTAssertEqual(BLASThreading(environment: "openblas"), .openBLAS)
        XCTAssertEqual(BLASThreading(environment: "OpenBLAS"), .openBLAS)
        XCTAssertEqual(BLASThreading(environment: nil), .workers)
        XCTAssertEqual(BLASThreading(environment: "workers"), .workers)
    }

    /// dx and dw of a cubic conv (stride s, padding p) in Double from the definition.
    static func naiveGradients(x: [Double], w: [Double], dy: [Double], g: Conv3dGeometry) -> (dx: [Double], dw: [Double]) {
        var dx = [Double](repeating: 0, count: g.inputCount), dw = [Double](repeating: 0, count: g.weightCount)
        let k = g.kernelD, s = g.strideD, p = g.paddingD
        for n in 0..<g.batch { for co in 0..<g.outChannels {
            for od in 0..<g.outD { for oh in 0..<g.outH { for ow in 0..<g.outW {
                let gy = dy[(((n * g.outChannels + co) * g.outD + od) * g.outH + oh) * g.outW + ow]
                for ci in 0..<g.inChannels { for kd in 0..<k { for kh in 0..<k { for kw in 0..<k {
                    let id = s * od - p + kd, ih = s * oh - p + kh, iw = s * ow - p + kw
                    guard id >= 0, id < g.inD, ih >= 0, ih < g.inH, iw >= 0, iw < g.inW else { continue }
                    let xi = (((n * g.inChannels + ci) * g.inD + id) * g.inH + ih) * g.inW + iw
                    let wi = (co * g.inChannels + ci) * k * k * k + (kd * k + kh) * k + kw
                    dx[xi] += w[wi] * gy
                    dw[wi] += x[xi] * gy
                }}}}
            }}}
        }}
        return (dx, dw)
    }

    /// The im2col path (forward, dW, dcol GEMMs all split) and the 1×1×1 path: 1, 2 and 3 workers
    /// give the same bits, and the Double definition agrees.
    func testConv3dSplitGEMMsAreThreadCountIndependentAndCorrect() {
        let geometries = [
            Conv3dGeometry(batch: 1, inChannels: 8, outChannels: 16, inD: 15, inH: 16, inW: 17, kernel: 3, stride: 1, padding: 1),
            Conv3dGeometry(batch: 2, inChannels: 64, outChannels: 32, inD: 16, inH: 16, inW: 16, kernel: 1, stride: 1, padding: 0),
        ]
        for (s, g) in geometries.enumerated() {
            let tile = Conv3d.tileColumns(g)
            let ovTile = min(tile, g.outVoxels)
            XCTAssertGreaterThan(GEMMSplit.parts(m: g.outChannels, n: g.columnRows, k: ovTile, threads: 2)
                                 + GEMMSplit.parts(m: g.outChannels, n: ovTile, k: g.columnRows, threads: 2), 2,
                                 "\(g): at least one GEMM must be split")
            let x = randomDoubles(g.inputCount, seed: 1 + UInt64(s)), w = randomDoubles(g.weightCount, seed: 2 + UInt64(s))
            let b = randomDoubles(g.outChannels, seed: 3), dy = randomDoubles(g.outputCount, seed: 4 + UInt64(s))
            assertSameBitsForWorkers("\(g)", { threads in
                var y = [Float](repeating: .nan, count: g.outputCount)
                var dx = [Float](repeating: .nan, count: g.inputCount)
                var dw = [Float](repeating: 0, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
                let ws = Workspace()
                floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in floats(dy).withPtr { dyp in
                    Conv3d.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: ws, tile: tile, threads: threads)
                    Conv3d.backward(x: xp, w: wp, dy: dyp, dx: &dx, dw: &dw, dbias: &db, g: g, workspace: ws,
                                    tile: tile, threads: threads)
                }}}}
                return (y, dx, dw)
            }, check: { r in self.checkAgainstDefinition("split conv \(g)", r, x: x, w: w, b: b, dy: dy, g: g) })
        }
    }

    /// The polyphase stride-2 conv's sgemm path (forward, dA and dphases GEMMs split).
    func testPolyphaseSgemmSplitIsThreadCountIndependentAndCorrect() {
        let g = Conv3dGeometry(batch: 1, inChannels: 16, outChannels: 32, inD: 32, inH: 32, inW: 30, kernel: 3, stride: 2, padding: 1)
        XCTAssertTrue(ConvPolyphase.applies(g))
        let x = randomDoubles(g.inputCount, seed: 5), w = randomDoubles(g.weightCount, seed: 6)
        let b = randomDoubles(g.outChannels, seed: 7), dy = randomDoubles(g.outputCount, seed: 8)
        assertSameBitsForWorkers("polyphase", { threads in
            var y = [Float](repeating: .nan, count: g.outputCount)
            var dx = [Float](repeating: .nan, count: g.inputCount)
            var dw = [Float](repeating: 0, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
            let ws = Workspace()
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in floats(dy).withPtr { dyp in
                ConvPolyphase.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: ws, kernel: .sgemm, threads: threads)
                ConvPolyphase.backward(x: xp, w: wp, dy: dyp, dx: &dx, dw: &dw, dbias: &db, g: g, workspace: ws,
                                       kernel: .sgemm, threads: threads)
            }}}}
            return (y, dx, dw)
        }, check: { r in self.checkAgainstDefinition("split polyphase", r, x: x, w: w, b: b, dy: dy, g: g) })
    }

    /// A transposed conv on the GEMM path with a single tile (its GEMMs split instead of the
    /// tiles): same bits for 1, 2 and 3 workers, and the Double definition agrees.
    func testTransposedConvSingleTileSplit() {
        let g = ConvTranspose3dGeometry(batch: 1, inChannels: 128, outChannels: 64, inD: 4, inH: 8, inW: 8)
        let rows = g.outChannels * g.kernelVolume
        XCTAssertEqual(ConvTranspose3d.Tiling(g: g, tile: ConvTranspose3d.tileSize(rows: rows, inVoxels: g.inVoxels)).count, 1)
        XCTAssertGreaterThan(GEMMSplit.parts(m: g.inChannels, n: rows, k: g.inVoxels, threads: 2), 1)
        let x = randomDoubles(g.inputCount, seed: 9), w = randomDoubles(g.weightCount, seed: 10)
        let b = randomDoubles(g.outChannels, seed: 11), dy = randomDoubles(g.outputCount, seed: 12)
        assertSameBitsForWorkers("transposed", { threads in
            var y = [Float](repeating: .nan, count: g.outputCount)
            var dx = [Float](repeating: .nan, count: g.inputCount)
            var dw = [Float](repeating: 0, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
            let ws = Workspace()
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in floats(dy).withPtr { dyp in
                ConvTranspose3d.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: ws, path: .gemm, threads: threads)
                ConvTranspose3d.backward(x: xp, w: wp, dy: dyp, dx: &dx, dw: &dw, dbias: &db, g: g, workspace: ws,
                                         path: .gemm, threads: threads)
            }}}}
            return (y, dx, dw)
        }, check: { r in
            let (y, dx, dw) = r
            let ey = worstRelativeError(y, ConvNaive.convTranspose3d(x: x, w: w, bias: b, g: g))
            report("split transposed y", ey)
            XCTAssertLessThan(ey, 1e-4)
            // dw[ci, co, tap] = Σ_v x[ci, v]·dy[co, out(v, tap)], dx[ci, v] = Σ w[ci, co, tap]·dy[co, out(v, tap)].
            var rdx = [Double](repeating: 0, count: g.inputCount), rdw = [Double](repeating: 0, count: g.weightCount)
            for ci in 0..<g.inChannels { for co in 0..<g.outChannels { for tap in 0..<8 {
                let a = tap >> 2, bb = (tap >> 1) & 1, c = tap & 1
                var sw = 0.0
                for d in 0..<g.inD { for h in 0..<g.inH { for ww in 0..<g.inW {
                    let v = (d * g.inH + h) * g.inW + ww
                    let o = ((2 * d + a) * (2 * g.inH) + 2 * h + bb) * (2 * g.inW) + 2 * ww + c
                    let gy = dy[co * g.outVoxels + o]
                    sw += x[ci * g.inVoxels + v] * gy
                    rdx[ci * g.inVoxels + v] += w[(ci * g.outChannels + co) * 8 + tap] * gy
                }}}
                rdw[(ci * g.outChannels + co) * 8 + tap] = sw
            }}}
            let ex = worstRelativeError(dx, rdx), ew = worstRelativeError(dw, rdw)
            report("split transposed dx", ex); report("split transposed dw", ew)
            XCTAssertLessThan(ex, 1e-4); XCTAssertLessThan(ew, 1e-4)
        })
    }

    /// `run(threads)` → (y, dx, dw) for 1, 2 and 3 workers: each bit-identical to the 1-worker
    /// result; `check` gets the 2-worker result (to compare with the Double definition).
    func assertSameBitsForWorkers(_ name: String, _ run: (Int) -> ([Float], [Float], [Float]),
                                  check: (([Float], [Float], [Float])) -> Void) {
        var results: [[Float]] = []
        for threads in 1...3 {
            let r = run(threads)
            results.append(r.0 + r.1 + r.2)
            if threads == 2 { check(r) }
        }
        for t in 1..<results.count {
            let differing = zip(results[t], results[0]).filter { $0.0.bitPattern != $0.1.bitPattern }.count
            XCTAssertEqual(differing, 0, "\(name): \(t + 1) workers against 1")
        }
    }

    /// y, dx and dw of a conv against `ConvNaive` and `naiveGradients` in Double: Float sums of up
    /// to 4096 products (dw over a tile's voxels, in tiles) are ~1e-6 relative to the scale; 1e-4
    /// as in the other conv tests.
    func checkAgainstDefinition(_ name: String, _ r: ([Float], [Float], [Float]), x: [Double], w: [Double],
                                b: [Double], dy: [Double], g: Conv3dGeometry) {
        let (y, dx, dw) = r
        let (rdx, rdw) = Self.naiveGradients(x: x, w: w, dy: dy, g: g)
        let ey = worstRelativeError(y, ConvNaive.conv3d(x: x, w: w, bias: b, g: g))
        let ex = worstRelativeError(dx, rdx), ew = worstRelativeError(dw, rdw)
        report("\(name) y", ey); report("\(name) dx", ex); report("\(name) dw", ew)
        XCTAssertLessThan(ey, 1e-4); XCTAssertLessThan(ex, 1e-4); XCTAssertLessThan(ew, 1e-4)
    }
}
