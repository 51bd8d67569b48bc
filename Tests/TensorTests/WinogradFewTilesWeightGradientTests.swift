import CKernels
import Common
import XCTest
@testable import Tensor

/// The few-tiles weight gradient (`WinogradFewTilesWeightGradient`: all tiles transformed once,
/// blocks of channel pairs over the workers, one GEMM over all tiles per component) for F(2,3)
/// and F(4,3), against the naive Double weight gradient (`WinogradConv3dTests`' oracle) and
/// the chunked path.
///
/// Tolerances: 1e-4 × max |reference| against the oracle (the project's); the sums over tiles
/// run in another order than the chunked path's, so against it 2e-5 × max |dw| (F(2,3)
/// rounding differences are ~1e-7, F(4,3)'s ~1e-6; a wrong block offset or component gives
/// order-1 errors). Across thread counts and block sizes: the same bits.
final class WinogradFewTilesWeightGradientTests: XCTestCase {
    typealias Shape = WinogradConv3dTests.Shape

    /// Odd tile counts (odd extents, one-tile axes), Cin ≠ Cout, Cin over one 64-column block
    /// (70), the 6³ / 12³ extents of the fetal network at few channels, batch 1 and 2.
    static let shapes = [
        Shape(n: 2, cin: 3, cout: 4, d: 5, h: 6, w: 7),
        Shape(n: 1, cin: 2, cout: 3, d: 1, h: 1, w: 1),
        Shape(n: 1, cin: 5, cout: 3, d: 9, h: 2, w: 11),
        Shape(n: 2, cin: 6, cout: 13, d: 6, h: 6, w: 6),
        Shape(n: 1, cin: 70, cout: 9, d: 3, h: 5, w: 7),
        Shape(n: 2, cin: 8, cout: 7, d: 12, h: 12, w: 12),
        Shape(n: 1, cin: 4, cout: 3, d: 6, h: 9, w: 14),
    ]

    enum Tile: CaseIterable { case f23, f43 }

    static func fewTiles(_ tile: Tile, _ s: Shape, x: [Float], dy: [Float], dw: inout [Float], db: inout [Float]?,
                         threads: Int, gemm: WinogradGEMM.Kernel? = nil, blockFloats: Int,
                         activation: WinogradInputActivation? = nil) {
        let workspace = WinogradF43Tests.staleWorkspace()
        dw.withUnsafeMutableBufferPointer { w in
            if db == nil {
                call(tile, s, x: x, dy: dy, dw: w.baseAddress!, db: nil, threads: threads, gemm: gemm,
                     blockFloats: blockFloats, activation: activation, workspace: workspace)
            } else {
                db!.withUnsafeMutableBufferPointer { b in
                    call(tile, s, x: x, dy: dy, dw: w.baseAddress!, db: b.baseAddress!, threads: threads, gemm: gemm,
                         blockFloats: blockFloats, activation: activation, workspace: workspace)
                }
            }
        }
    }

    private static func call(_ tile: Tile, _ s: Shape, x: [Float], dy: [Float], dw: UnsafeMutablePointer<Float>,
                             db: UnsafeMutablePointer<Float>?, threads: Int, gemm: WinogradGEMM.Kernel?,
                             blockFloats: Int, activation: WinogradInputActivation?, workspace: Workspace) {
        switch tile {
        case .f23:
            WinogradConv3d.backwardWeightFewTiles(x: x, dy: dy, dweight: dw, dbias: db, n: s.n, cin: s.cin,
                                                  cout: s.cout, d: s.d, h: s.h, width: s.w, workspace: workspace,
                                                  threads: threads, gemm: gemm, blockFloats: blockFloats)
        case .f43:
            WinogradF43.backwardWeightFewTiles(x: x, dy: dy, dweight: dw, dbias: db, n: s.n, cin: s.cin,
                                               cout: s.cout, d: s.d, h: s.h, width: s.w, workspace: workspace,
                                               activation: activation, threads: threads, gemm: gemm,
                                               blockFloats: blockFloats)
        }
    }

    static func chunked(_ tile: Tile, _ s: Shape, x: [Float], dy: [Float], dw: inout [Float], db: inout [Float]) {
        switch tile {
        case .f23:
            WinogradConv3d.backwardWeight(x: x, dy: dy, dweight: &dw, dbias: &db, n: s.n, cin: s.cin, cout: s.cout,
                                          d: s.d, h: s.h, width: s.w, workspace: Workspace(), tuning: .standard)
        case .f43:
            WinogradF43.backwardWeight(x: x, dy: dy, dweight: &dw, dbias: &db, n: s.n, cin: s.cin, cout: s.cout,
                                       d: s.d, h: s.h, width: s.w, workspace: Workspace(),
                                       tuning: WinogradF43.standardTuning)
        }
    }

    /// GEMM kernels to run: the automatic one and OpenBLAS (the portable choice).
    static var kernels: [WinogradGEMM.Kernel?] { WinogradGEMM.automaticWeight == .blas ? [nil] : [nil, .blas] }

    func testMatchesDirectGradientAndChunkedPath() {
        var rng = SplitMix64(seed: 71)
        var worstOracle = 0.0, worstChunked = 0.0
        for tile in Tile.allCases {
            for s in Self.shapes {
                let x = rng.values(s.n * s.cin * s.d * s.h * s.w), dy = rng.values(s.n * s.cout * s.d * s.h * s.w)
                let (gw, gb) = WinogradConv3dTests.directWeightGradient(s, x: x, dy: dy)
                let startW = rng.values(gw.count), startB = rng.values(gb.count)
                var chunkW = startW, chunkB = startB
                Self.chunked(tile, s, x: x, dy: dy, dw: &chunkW, db: &chunkB)
                let scaleW = gw.map { abs($0) }.max()!, scaleB = gb.map { abs($0) }.max()!
                for gemm in Self.kernels {
                    for threads in [1, 2] {
                        for withBias in [true, false] {
                            // Twice: it accumulates.
                            var dw = startW, db: [Float]? = withBias ? startB : nil
                            for _ in 0..<2 {
                                Self.fewTiles(tile, s, x: x, dy: dy, dw: &dw, db: &db, threads: threads, gemm: gemm,
                                              blockFloats: WinogradFewTilesWeightGradient.blockFloats)
                            }
                            let name = "\(tile) \(s) \(gemm.map(\.rawValue) ?? "auto") threads \(threads) bias \(withBias)"
                            let wantW = zip(startW, gw).map { Double($0) + 2 * $1 }
                            let eW = zip(dw, wantW).map { abs(Double($0) - $1) }.max()! / (2 * scaleW)
                            XCTAssertTrue(dw.allSatisfy { $0.isFinite }, name)
                            XCTAssertLessThan(eW, 1e-4, "oracle dw \(name)")
                            worstOracle = max(worstOracle, eW)
                            if let db {
                                let wantB = zip(startB, gb).map { Double($0) + 2 * $1 }
                                XCTAssertLessThan(zip(db, wantB).map { abs(Double($0) - $1) }.max()! / (2 * scaleB),
                                                  1e-4, "oracle db \(name)")
                            }
                            // Once against the chunked path (accumulating into the same start).
                            var once = startW, onceB: [Float]? = startB
                            Self.fewTiles(tile, s, x: x, dy: dy, dw: &once, db: &onceB, threads: threads, gemm: gemm,
                                          blockFloats: WinogradFewTilesWeightGradient.blockFloats)
                            let eC = zip(once, chunkW).map { abs(Double($0) - Double($1)) }.max()! / scaleW
                            XCTAssertLessThan(eC, 2e-5, "chunked dw \(name)")
                            XCTAssertTrue(onceB!.map(\.bitPattern) == chunkB.map(\.bitPattern), "chunked db \(name)")
                            worstChunked = max(worstChunked, eC)
                        }
                    }
                }
            }
        }
        print("Winograd few-tiles weight gradient: worst relative error vs oracle \(worstOracle), vs chunked \(worstChunked)")
    }

    /// The same bits for 1, 2 and 3 workers (every block is one worker's) and, with this package's
    /// GEMM kernels, for blocks from one row to all of them (each dU element one FMA chain over
    /// the tiles whatever the block).
    func testIndependentOfThreadsAndBlocks() {
        var rng = SplitMix64(seed: 72)
        for tile in Tile.allCases {
            for s in [Self.shapes[3], Self.shapes[4], Self.shapes[5]] {
                let x = rng.values(s.n * s.cin * s.d * s.h * s.w), dy = rng.values(s.n * s.cout * s.d * s.h * s.w)
                let start = rng.values(s.cout * s.cin * 27)
                let components = tile == .f23 ? 64 : 216
                var reference = start, none: [Float]? = nil
                Self.fewTiles(tile, s, x: x, dy: dy, dw: &reference, db: &none, threads: 1,
                              blockFloats: WinogradFewTilesWeightGradient.blockFloats)
                // OpenBLAS (the portable kernel) picks its kernels by M, so its bits depend on the
                // block rows: there, thread counts only.
                let standard = WinogradFewTilesWeightGradient.blockFloats
                let variations = WinogradGEMM.automaticWeight == .blas
                    ? [(2, standard), (3, standard)]
                    : [(2, standard), (3, components * 16), (2, components), (2, components * 7 * 64), (1, 1 << 26),
                       (2, components * 70 * 9)]
                for (threads, blockFloats) in variations {
                    var dw = start
                    Self.fewTiles(tile, s, x: x, dy: dy, dw: &dw, db: &none, threads: threads, blockFloats: blockFloats)
                    XCTAssertTrue(dw.map(\.bitPattern) == reference.map(\.bitPattern),
                                   "\(tile) \(s) threads \(threads) block \(blockFloats)")
                }
            }
        }
    }

    /// F(4,3) with the layer input given as z and its activation computed in the input
    /// transform: the same bits as the activation written first.
    func testFusedActivationIsBitIdenticalToWrittenActivation() throws {
        guard WinogradF43.fusesInputActivation(width: 7) else {
            throw XCTSkip("no AVX-512 one-row transform (or DRO_PORTABLE_KERNELS=1 / DRO_WINOGRAD_FUSED_ACTIVATION=off)")
        }
        var rng = SplitMix64(seed: 73)
        let slope: Float = 0.01
        for s in [Self.shapes[0], Self.shapes[3], Self.shapes[5]] {
            let voxels = s.d * s.h * s.w, rows = s.n * s.cin
            let z = rng.values(rows * voxels).map { 3 * $0 + 0.25 }
            let dy = rng.values(s.n * s.cout * voxels)
            let gamma = rng.values(s.cin).map { 0.5 + abs($0) }, beta = rng.values(s.cin)
            let mean = rng.values(rows).map { 0.2 * $0 }, rstd = rng.values(rows).map { 0.3 + abs($0) }
            var a = [Float](repeating: .nan, count: rows * voxels)
            InstanceNormLeakyReLU.apply(x: z, gamma: gamma, beta: beta, mean: mean, rstd: rstd, y: &a, batch: s.n,
                                        channels: s.cin, voxels: voxels, slope: slope, threads: 1)
            var scale = [Float](repeating: 0, count: rows), shift = [Float](repeating: 0, count: rows)
            InstanceNormLeakyReLU.rowConstants(gamma: gamma, beta: beta, mean: mean, rstd: rstd, batch: s.n,
                                               channels: s.cin, scale: &scale, shift: &shift)
            for threads in [1, 2] {
                let start = rng.values(s.cout * s.cin * 27)
                var want = start, wantB: [Float]? = [Float](repeating: 0.5, count: s.cout)
                Self.fewTiles(.f43, s, x: a, dy: dy, dw: &want, db: &wantB, threads: threads,
                              blockFloats: WinogradFewTilesWeightGradient.blockFloats)
                var got = start, gotB: [Float]? = [Float](repeating: 0.5, count: s.cout)
                scale.withUnsafeBufferPointer { sc in
                    shift.withUnsafeBufferPointer { sh in
                        let act = WinogradInputActivation(scale: sc.baseAddress!, shift: sh.baseAddress!, slope: slope)
                        Self.fewTiles(.f43, s, x: z, dy: dy, dw: &got, db: &gotB, threads: threads,
                                      blockFloats: WinogradFewTilesWeightGradient.blockFloats, activation: act)
                    }
                }
                XCTAssertTrue(got.map(\.bitPattern) == want.map(\.bitPattern), "\(s) threads \(threads): dW")
                XCTAssertTrue(gotB!.map(\.bitPattern) == wantB!.map(\.bitPattern), "\(s) threads \(threads): db")
                var plain = start, none: [Float]? = nil
                Self.fewTiles(.f43, s, x: z, dy: dy, dw: &plain, db: &none, threads: threads,
                              blockFloats: WinogradFewTilesWeightGradient.blockFloats)
                XCTAssertTrue(plain != want, "\(s): the activation is applied")
            }
        }
    }

    /// The public entry points follow DRO_WINOGRAD_SMALL_DW: `on` gives the few-tiles path's
    /// bits, `off` the chunked path's.
    func testSwitchSelectsPath() {
        let saved = WinogradFewTilesWeightGradient.mode
        defer { WinogradFewTilesWeightGradient.mode = saved }
        var rng = SplitMix64(seed: 74)
        let s = Self.shapes[5]
        let x = rng.values(s.n * s.cin * s.d * s.h * s.w), dy = rng.values(s.n * s.cout * s.d * s.h * s.w)
        let start = rng.values(s.cout * s.cin * 27), startB = rng.values(s.cout)
        for tile in Tile.allCases {
            var few = start, fewB: [Float]? = startB
            Self.fewTiles(tile, s, x: x, dy: dy, dw: &few, db: &fewB, threads: Parallel.defaultThreads,
                          blockFloats: WinogradFewTilesWeightGradient.blockFloats)
            var chunk = start, chunkB = startB
            Self.chunked(tile, s, x: x, dy: dy, dw: &chunk, db: &chunkB)
            let differing = zip(few, chunk).filter { $0.bitPattern != $1.bitPattern }.count
            print("\(tile) \(s): \(differing) of \(few.count) dw elements differ between the two paths")
            // F(2,3): 432 tiles in 4 chunks, so other sums; F(4,3): 54 tiles, one chunk on one
            // worker, the same FMA chain (equal bits).
            if tile == .f23 { XCTAssertGreaterThan(differing, 0, "\(tile): the two paths round differently") }
            for (mode, want) in [(WinogradFewTilesWeightGradient.Mode.on, few), (.off, chunk)] {
                WinogradFewTilesWeightGradient.mode = mode
                var dw = start, db = startB
                switch tile {
                case .f23:
                    WinogradConv3d.backwardWeight(x: x, dy: dy, dweight: &dw, dbias: &db, n: s.n, cin: s.cin,
                                                  cout: s.cout, d: s.d, h: s.h, width: s.w, workspace: Workspace())
                case .f43:
                    WinogradF43.backwardWeight(x: x, dy: dy, dweight: &dw, dbias: &db, n: s.n, cin: s.cin,
                                               cout: s.cout, d: s.d, h: s.h, width: s.w, workspace: Workspace())
                }
                XCTAssertTrue(dw.map(\.bitPattern) == want.map(\.bitPattern), "\(tile) \(mode)")
            }
        }
    }

    /// The tile rule given the batch, with DRO_WINOGRAD_TILE_RULE=wide: F(4,3) above 256 → 128 at
    /// 12³ where the few-tiles weight gradient runs, up to 512 → 256; not without the batch, at 6³, above 512 → 256, at 24³
    /// (432 tiles: chunked) or with DRO_WINOGRAD_SMALL_DW=off.
    func testTileRuleWidensWithFewTilesWeightGradient() {
        let saved = WinogradFewTilesWeightGradient.mode, savedWide = WinogradTile.widensWithFewTiles
        defer { WinogradFewTilesWeightGradient.mode = saved; WinogradTile.widensWithFewTiles = savedWide }
        WinogradFewTilesWeightGradient.mode = .auto
        WinogradTile.widensWithFewTiles = false
        XCTAssertEqual(WinogradTile.automatic(cin: 256, cout: 256, d: 12, h: 12, w: 12, batch: 2), .f23)
        XCTAssertEqual(WinogradTile.automatic(cin: 512, cout: 256, d: 12, h: 12, w: 12, batch: 2), .f23)
        WinogradTile.widensWithFewTiles = true
        XCTAssertEqual(WinogradTile.automatic(cin: 256, cout: 256, d: 12, h: 12, w: 12, batch: 2), .f43)
        XCTAssertEqual(WinogradTile.automatic(cin: 512, cout: 256, d: 12, h: 12, w: 12, batch: 2), .f43)
        XCTAssertEqual(WinogradTile.automatic(cin: 256, cout: 256, d: 12, h: 12, w: 12), .f23)
        XCTAssertEqual(WinogradTile.automatic(cin: 320, cout: 320, d: 6, h: 6, w: 6, batch: 2), .f23)
        XCTAssertEqual(WinogradTile.automatic(cin: 512, cout: 512, d: 12, h: 12, w: 12, batch: 2), .f23)
        XCTAssertEqual(WinogradTile.automatic(cin: 256, cout: 128, d: 12, h: 12, w: 12, batch: 2), .f43)
        XCTAssertEqual(WinogradTile.automatic(cin: 512, cout: 256, d: 24, h: 24, w: 24, batch: 2), .f23)
        WinogradFewTilesWeightGradient.mode = .off
        XCTAssertEqual(WinogradTile.automatic(cin: 256, cout: 256, d: 12, h: 12, w: 12, batch: 2), .f23)
        XCTAssertEqual(WinogradTile.automatic(cin: 512, cout: 256, d: 12, h: 12, w: 12, batch: 2), .f23)
        XCTAssertEqual(WinogradTile.automatic(cin: 256, cout: 128, d: 12, h: 12, w: 12, batch: 2), .f43)
    }

    /// The automatic rule on the fetal network's layers (96³ patch, batch 2, 2 workers).
    func testRuleOnFetalLayers() {
        typealias R = WinogradFewTilesWeightGradient
        // enc4.1, 6³ F(2,3): 54 tiles, 320 → 320.
        XCTAssertTrue(R.prefers(tiles: 2 * 27, cin: 320, cout: 320, workers: 2))
        // 12³ on F(2,3): 432 tiles; 256 → 256 and 512 → 256 stay chunked.
        XCTAssertFalse(R.prefers(tiles: 2 * 216, cin: 256, cout: 256, workers: 2))
        XCTAssertFalse(R.prefers(tiles: 2 * 216, cin: 512, cout: 256, workers: 2))
        // 12³ on F(4,3): 54 tiles.
        XCTAssertTrue(R.prefers(tiles: 2 * 27, cin: 512, cout: 256, workers: 2))
        XCTAssertTrue(R.prefers(tiles: 2 * 27, cin: 256, cout: 256, workers: 1))
        // 96³ at 32 channels: chunked.
        XCTAssertFalse(R.prefers(tiles: 2 * 48 * 48 * 48, cin: 32, cout: 32, workers: 2))
        // Blocks: dU within the budget, whole rows of the register blocks.
        let b = R.block(components: 216, cout: 256, cin: 512, floats: 96 * 1024)
        XCTAssertEqual(b.columns, min(512, R.blockColumns))
        XCTAssertLessThanOrEqual(216 * b.rows * b.columns, 96 * 1024)
        XCTAssertEqual(b.rows % 6, 0)
        XCTAssertEqual(R.block(components: 64, cout: 3, cin: 5, floats: 96 * 1024).rows, 3)
    }
}
