import XCTest
@testable import Tensor

/// `WinogradCost` on small layers against counts derived by hand from the code (the plans, the
/// lines the input transform loads, the chunk buffers), written out in each test. The plans'
/// rows padded to whole 4-lane vectors, except in `testUnpaddedRows`.
final class WinogradCostTests: XCTestCase {
    /// n 1, Cin 2, Cout 3, 4³, one thread. Tiles 2×2×2, row stride 4 (one 4-lane vector), rows
    /// (td, th) = (0,0) (0,1) (1,0) (1,1), one chunk of all 4 rows = 16 GEMM columns.
    /// Input W-lines per channel: row (0,0) z ∈ {−1…2} × y ∈ {−1…2}, 3 × 3 inside = 9; row (0,1)
    /// reuses y 1, 2 and loads y 3, 4 for z 0…2: 3 × 1 = 3; row (1,0) (new td, no reuse)
    /// z 1…4, y −1…2: 3 × 3 = 9; row (1,1): 3. Total 24 lines of W = 4 floats.
    /// Output lines: 4 per row, 16 per channel.
    func testForwardAndBackwardOfASmallLayer() {
        let fwd = WinogradCost.forward(n: 1, cin: 2, cout: 3, d: 4, h: 4, w: 4, threads: 1, unpaddedRows: false)
        XCTAssertEqual(fwd.gemmFLOPs, 12288)   // 2·64·2·3·16
        // input 2·24·4·4 = 768, output 3·16·4·4 = 768, weights (27 + 64)·6·4 = 2184.
        XCTAssertEqual(fwd.memoryBytes, 3720)   // 768 + 768 + 2184
        // tiles 64·2·16·4 written + read, products 64·3·16·4 written + read, U 64·6·4 read.
        XCTAssertEqual(fwd.cacheBytes, 42496)   // 2·8192 + 2·12288 + 1536

        let bwd = WinogradCost.backward(n: 1, cin: 2, cout: 3, d: 4, h: 4, w: 4, inputGradient: true, threads: 1,
                                           unpaddedRows: false)
        // Weight gradient 12 288 + input gradient (3 → 2 channels) 12 288.
        XCTAssertEqual(bwd.gemmFLOPs, 24576)
        // Weight gradient: x 2·24·16 = 768, dy 3·16·16 = 768, dy again for the bias 3·64·4 = 768,
        // weights 2184. Input gradient: dy 3·24·16 = 1152, dx 2·16·16 = 512, weights 2184.
        XCTAssertEqual(bwd.memoryBytes, 8336)   // 768 + 768 + 768 + 2184 + 1152 + 512 + 2184
        // Weight gradient: tiles 64·(2 + 3)·16·4 written + read, accumulator 64·6·4 read + written;
        // input gradient: as the forward.
        XCTAssertEqual(bwd.cacheBytes, 86528)   // 2·20480 + 2·1536 + 42496

        let weightOnly = WinogradCost.backward(n: 1, cin: 2, cout: 3, d: 4, h: 4, w: 4, inputGradient: false,
                                                  threads: 1, unpaddedRows: false)
        XCTAssertEqual(weightOnly.gemmFLOPs, 12288)
        XCTAssertEqual(weightOnly.memoryBytes, 4488)   // 768 + 768 + 768 + 2184
    }

    /// n 2, Cin = Cout = 1, 3×3×2 (odd D and H): tilesW 1 → row stride 4, 2 × 2 × 2 = 8 rows in
    /// one chunk (32 columns). Input lines per sample: (0,0) z 0…2 × y 0…2 = 9; (0,1) reuses and
    /// loads y 3, 4, both outside: 0; (1,0) z 1, 2 × y 0…2 = 6; (1,1): 0 → 15, and sample 1 starts
    /// again without reuse: 30 lines of 2 floats. Output lines per sample 4 + 2 + 2 + 1 = 9 → 18
    /// lines of 2 floats = the 36 voxels.
    func testOddVolumeAndBatch() {
        let c = WinogradCost.forward(n: 2, cin: 1, cout: 1, d: 3, h: 3, w: 2, threads: 1, unpaddedRows: false)
        XCTAssertEqual(c.gemmFLOPs, 4096)   // 2·64·1·1·32
        XCTAssertEqual(c.memoryBytes, 748)   // input 30·2·4 = 240, output 18·2·4 = 144, weights 91·4 = 364
        XCTAssertEqual(c.cacheBytes, 33024)   // 4·64·(2·(1 + 1)·32 + 1·1)
    }

    /// With two workers the same 4³ layer is split into two chunks of 2 rows (8 columns each):
    /// FLOPs and tensor bytes change only through the input lines (row (1,0) starts chunk 1, as
    /// it starts a new td anyway: still 24), the transformed weights are read twice.
    func testTwoWorkersSplitTheChunks() {
        let one = WinogradCost.forward(n: 1, cin: 2, cout: 3, d: 4, h: 4, w: 4, threads: 1, unpaddedRows: false)
        let two = WinogradCost.forward(n: 1, cin: 2, cout: 3, d: 4, h: 4, w: 4, threads: 2, unpaddedRows: false)
        XCTAssertEqual(two.gemmFLOPs, one.gemmFLOPs)
        XCTAssertEqual(two.memoryBytes, one.memoryBytes)
        XCTAssertEqual(two.cacheBytes - one.cacheBytes, 1536)
    }

    /// 128 → 128 channels at 2³ (n 1): one tile, one row of stride 4, one chunk of 4 columns.
    /// The transformed weights, 64·128·128·4 = 4 MiB, exceed the 1 MiB chunk budget, so their read
    /// is counted on the memory side. Input lines: z 0, 1 × y 0, 1 = 4 per channel.
    func testLargeTransformedWeightsCountAsMemory() {
        let c = WinogradCost.forward(n: 1, cin: 128, cout: 128, d: 2, h: 2, w: 2, threads: 1, unpaddedRows: false)
        XCTAssertEqual(c.gemmFLOPs, 8388608)   // 2·64·128·128·4
        // input 128·4·2·4 = 4096, output 128·4·2·4 = 4096, weight transform (27 + 64)·16384·4 =
        // 5 963 776, transformed weights read 64·16384·4 = 4 194 304.
        XCTAssertEqual(c.memoryBytes, 10166272)
        XCTAssertEqual(c.cacheBytes, 524288)   // 4·64·2·(128 + 128)·4
    }

    /// The 4³ layer of `testForwardAndBackwardOfASmallLayer` with unpadded rows (where the plan
    /// has them: AVX-512 transforms): row stride 2 (tilesW), 4 rows = 8 GEMM columns; the lines
    /// loaded and written do not change.
    func testUnpaddedRows() throws {
        let plan = WinogradPlan(batch: 1, d: 4, h: 4, w: 4, channels: 5,
                                tuning: WinogradTuning(threads: 1, unpaddedRows: true))
        try XCTSkipUnless(plan.unpadded, "unpadded rows need the AVX-512 transforms")
        let fwd = WinogradCost.forward(n: 1, cin: 2, cout: 3, d: 4, h: 4, w: 4, threads: 1, unpaddedRows: true)
        XCTAssertEqual(fwd.gemmFLOPs, 6144)   // 2·64·2·3·8
        XCTAssertEqual(fwd.memoryBytes, 3720)   // as padded
        XCTAssertEqual(fwd.cacheBytes, 22016)   // 2·(64·2·8·4) + 2·(64·3·8·4) + 1536
    }
}
