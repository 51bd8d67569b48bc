import XCTest
@testable import Tensor

/// `WinogradCost.f43Forward` / `f43Backward` on small layers against counts derived by hand from
/// `WinogradF43` (its plan, the lines its transforms load, the vectors they store), written out
/// in each test.
final class WinogradCostF43Tests: XCTestCase {
    /// n 1, Cin 2, Cout 3, 8³, one thread. Tiles 2×2×2 (4³ outputs each), rowStride 2, vectorTiles
    /// 8; 4 rows (td, th) in one chunk (216·5·4 = 4320 bytes per tile, target max(64, 1 MiB / 4320
    /// = 242) tiles ≥ 8): C = 8 GEMM columns, V = 4·8 = 32 columns the transforms touch.
    /// Input W-lines per channel: each row loads z ∈ {4td − 1 … 4td + 4} × y likewise, inside
    /// 0…7: 5 × 5 = 25 for every row → 100 lines of 8 floats. Output lines: 4 × 4 per row = 64.
    func testForwardAndBackwardOfASmallLayer() {
        let fwd = WinogradCost.f43Forward(n: 1, cin: 2, cout: 3, d: 8, h: 8, w: 8, threads: 1)
        XCTAssertEqual(fwd.gemmFLOPs, 20736)   // 2·216·2·3·8
        // input 2·100·8·4 = 6400, output 3·64·8·4 = 6144, weights (27 + 216)·6·4 = 5832.
        XCTAssertEqual(fwd.memoryBytes, 18376)
        // tiles written 216·2·32·4 = 55296, read 216·2·8·4 = 13824; products written 216·3·8·4 =
        // 20736, read 216·3·32·4 = 82944; U read 216·6·4 = 5184.
        XCTAssertEqual(fwd.cacheBytes, 177984)

        let bwd = WinogradCost.f43Backward(n: 1, cin: 2, cout: 3, d: 8, h: 8, w: 8, inputGradient: true, threads: 1)
        XCTAssertEqual(bwd.gemmFLOPs, 41472)   // weight gradient 20736 + input gradient 20736
        // Weight gradient: x 2·100·32 = 6400, dy 3·64·32 = 6144, dy again for the bias 3·512·4 =
        // 6144, Gᵀ dU G 216 read + 27 read + 27 written per pair: 270·6·4 = 6480 (25168).
        // Input gradient (3 → 2): dy 3·100·32 = 9600, dx 2·64·32 = 4096, weights 5832 (19528).
        XCTAssertEqual(bwd.memoryBytes, 44696)
        // Weight gradient: tiles written 216·5·32·4 = 138240, read 216·5·8·4 = 34560, accumulator
        // read + written 2·5184 (183168); input gradient: 216·3·32·4 + 216·3·8·4 + 216·2·8·4 +
        // 216·2·32·4 + 5184 = 177984.
        XCTAssertEqual(bwd.cacheBytes, 361152)

        let weightOnly = WinogradCost.f43Backward(n: 1, cin: 2, cout: 3, d: 8, h: 8, w: 8, inputGradient: false,
                                                  threads: 1)
        XCTAssertEqual(weightOnly.gemmFLOPs, 20736)
        XCTAssertEqual(weightOnly.memoryBytes, 25168)
        XCTAssertEqual(weightOnly.cacheBytes, 183168)
    }

    /// Two workers: the 4 rows split into two chunks of 2 (4 columns, 16 touched each). FLOPs,
    /// tensor bytes and tile bytes are unchanged (no reuse between rows to lose); U is read twice.
    func testTwoWorkersSplitTheChunks() {
        let one = WinogradCost.f43Forward(n: 1, cin: 2, cout: 3, d: 8, h: 8, w: 8, threads: 1)
        let two = WinogradCost.f43Forward(n: 1, cin: 2, cout: 3, d: 8, h: 8, w: 8, threads: 2)
        XCTAssertEqual(two.gemmFLOPs, one.gemmFLOPs)
        XCTAssertEqual(two.memoryBytes, one.memoryBytes)
        XCTAssertEqual(two.cacheBytes - one.cacheBytes, 5184)
    }

    /// n 2, Cin = Cout = 1, D 5, H 6, W 3: tiles 2 × 2 × 1, 8 rows in one chunk (C 8, V 64).
    /// Input lines per sample: (0,0) z 0…4 × y 0…4 = 25; (0,1) z 0…4 × y 3…5 = 15; (1,0) z 3, 4 ×
    /// y 0…4 = 10; (1,1) 2 × 3 = 6 → 56, 112 for both samples, of 3 floats. Output lines per
    /// sample 16 + 8 + 4 + 2 = 30 = D·H → 60 lines of 3 floats.
    func testOddVolumeAndBatch() {
        let c = WinogradCost.f43Forward(n: 2, cin: 1, cout: 1, d: 5, h: 6, w: 3, threads: 1)
        XCTAssertEqual(c.gemmFLOPs, 3456)   // 2·216·1·1·8
        XCTAssertEqual(c.memoryBytes, 3036)   // input 112·3·4 = 1344, output 60·3·4 = 720, weights 243·4 = 972
        XCTAssertEqual(c.cacheBytes, 125280)   // 4·216·(1 + 1)·(8 + 64) + U 216·4
    }

    /// 64 → 64 at 4³: one tile (C 1, V 8). U = 216·4096·4 = 3 538 944 bytes > the 1 MiB chunk
    /// budget: read on the memory side. Input lines z 0…3 × y 0…3 = 16 per channel.
    func testLargeTransformedWeightsCountAsMemory() {
        let c = WinogradCost.f43Forward(n: 1, cin: 64, cout: 64, d: 4, h: 4, w: 4, threads: 1)
        XCTAssertEqual(c.gemmFLOPs, 1769472)   // 2·216·4096
        // input 64·16·4·4 = 16384, output 16384, weight transform 243·4096·4 = 3 981 312, U 3 538 944.
        XCTAssertEqual(c.memoryBytes, 7553024)
        XCTAssertEqual(c.cacheBytes, 995328)   // 4·216·128·(1 + 8)
    }
}

/// The tile rule at the reference and fetal networks' levels: F(4,3) from 12³ up to Cin·Cout =
/// 256·128, F(2,3) elsewhere (measurements: docs/performance.md, "F(4,3) above 128 channels and at 12³").
final class WinogradTileRuleTests: XCTestCase {
    func testRuleAtTheReferenceLevels() {
        XCTAssertEqual(WinogradTile.automatic(cin: 16, cout: 16, d: 64, h: 64, w: 64), .f43)
        XCTAssertEqual(WinogradTile.automatic(cin: 64, cout: 64, d: 16, h: 16, w: 16), .f43)
        XCTAssertEqual(WinogradTile.automatic(cin: 128, cout: 64, d: 16, h: 16, w: 16), .f43)
        XCTAssertEqual(WinogradTile.automatic(cin: 128, cout: 128, d: 8, h: 8, w: 8), .f23)
        XCTAssertEqual(WinogradTile.automatic(cin: 64, cout: 64, d: 16, h: 16, w: 8), .f23)
        XCTAssertEqual(WinogradTile.automatic(cin: 256, cout: 128, d: 16, h: 16, w: 16), .f43)
        XCTAssertEqual(WinogradTile.automatic(cin: 256, cout: 128, d: 12, h: 12, w: 12), .f43)
        XCTAssertEqual(WinogradTile.automatic(cin: 256, cout: 256, d: 12, h: 12, w: 12), .f23)
        XCTAssertEqual(WinogradTile.automatic(cin: 512, cout: 256, d: 24, h: 24, w: 24), .f23)
        XCTAssertEqual(WinogradTile.automatic(cin: 320, cout: 320, d: 6, h: 6, w: 6), .f23)
        XCTAssertEqual(WinogradTile.automatic(cin: 64, cout: 64, d: 12, h: 12, w: 11), .f23)
    }
}
