// Checkpoint round trips (bit-identical continuation), corrupt-state errors and the CSV export.

import XCTest
@testable import Sampling

final class SamplerStateTests: XCTestCase {
    /// Runs `iterations` of draw + feedback with losses from `lossStream`; returns every batch,
    /// every weight's bits and the final state.
    private func run(_ s: Sampler, iterations: Int, lossStream: inout SeededGenerator) throws -> ([[Int]], [UInt64]) {
        var batches = [[Int]](), weights = [UInt64]()
        for _ in 0 ..< iterations {
            let b = try s.nextBatch(size: 3)
            batches.append(b)
            weights += try s.feedBack(indices: b, losses: b.map { _ in lossStream.nextDouble(in: 0, 3) }).map { $0.bitPattern }
        }
        return (batches, weights)
    }

    func testHardnessRoundTripContinuesBitIdentically() throws {
        let o = HardnessSamplerOptions(beta: 30, momentum: 0.5, importanceSampling: true, floor: 0.01)
        // N odd: the initial Box–Muller draws leave a spare deviate in the generator state.
        let s = try HardnessWeightedSampler(count: 101, options: o, generator: SeededGenerator(seed: 77))
        XCTAssertNotNil(s.generator.spareNormal)
        var losses = SeededGenerator(seed: 1)
        _ = try run(s, iterations: 200, lossStream: &losses)
        let saved = s.stateBytes()
        // magic, N, 7 Doubles (β, m, L_init, clip ×2, floor, c), flag byte, rebuild count, generator, N × (8 + 4).
        XCTAssertEqual(saved.count, 8 + 8 + 7 * 8 + 1 + 8 + SeededGenerator.serializedByteCount + 101 * 12)
        var lossesCopy = losses
        let (b1, w1) = try run(s, iterations: 300, lossStream: &losses)

        let r = try HardnessWeightedSampler.restored(from: saved)
        XCTAssertEqual(r.options, o)
        XCTAssertEqual(r.stateBytes(), saved)
        let (b2, w2) = try run(r, iterations: 300, lossStream: &lossesCopy)
        XCTAssertEqual(b1, b2)
        XCTAssertEqual(w1, w2)
        XCTAssertEqual(r.stateBytes(), s.stateBytes())
        XCTAssertEqual(r.tree.nodes, s.tree.nodes)  // same bits in every tree node too

        // restore(from:) into a sampler built from config with other options takes the saved ones.
        let fresh = try HardnessWeightedSampler(count: 101, options: HardnessSamplerOptions(), generator: SeededGenerator(seed: 0))
        try fresh.restore(from: saved)
        XCTAssertEqual(fresh.stateBytes(), saved)
    }

    func testUniformRoundTrip() throws {
        let s = try UniformSampler(count: 10, generator: SeededGenerator(seed: 3))
        var l = SeededGenerator(seed: 2)
        _ = try run(s, iterations: 20, lossStream: &l)
        let saved = s.stateBytes()
        var l2 = l
        let (b1, _) = try run(s, iterations: 50, lossStream: &l)
        let r = try UniformSampler(count: 10, generator: SeededGenerator(seed: 999))
        try r.restore(from: saved)
        let (b2, _) = try run(r, iterations: 50, lossStream: &l2)
        XCTAssertEqual(b1, b2)
        XCTAssertEqual(r.drawCounts, s.drawCounts)
    }

    func testCorruptOrMismatchedStateIsRefused() throws {
        let s = try makeHardness([1, 2, 3], beta: 1)
        let bytes = s.stateBytes()
        let other = try makeHardness([1, 2, 3, 4], beta: 1)
        XCTAssertThrowsError(try other.restore(from: bytes)) {
            XCTAssertEqual("\($0)", "sampler checkpoint has 3 samples but the dataset has 4: resume with the same data and sampler.unit")
        }
        XCTAssertThrowsError(try s.restore(from: Array(bytes.dropLast(2)))) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        XCTAssertThrowsError(try s.restore(from: bytes + [0])) { XCTAssertTrue("\($0)".contains("trailing"), "\($0)") }
        XCTAssertThrowsError(try s.restore(from: try UniformSampler(count: 3, generator: SeededGenerator(seed: 1)).stateBytes())) {
            XCTAssertTrue("\($0)".contains("DROHWS01"), "\($0)")
        }
        var badBeta = bytes
        let betaOffset = 8 + 8
        for k in 0 ..< 8 { badBeta[betaOffset + k] = withUnsafeBytes(of: (-1.0).bitPattern.littleEndian) { $0[k] } }
        XCTAssertThrowsError(try s.restore(from: badBeta)) { XCTAssertTrue("\($0)".hasPrefix("sampler.beta = -1.0"), "\($0)") }
        // c far below the history (β(L̃ − c) ≈ 1000 > 600) or far above it (total < e^−300).
        for c in [-1000.0, 1000.0] {
            var badC = bytes
            let cOffset = 8 + 8 + 3 * 8 + 1 + 3 * 8  // magic, N, β m L_init, flag, clip ×2 floor
            for k in 0 ..< 8 { badC[cOffset + k] = withUnsafeBytes(of: c.bitPattern.littleEndian) { $0[k] } }
            XCTAssertThrowsError(try s.restore(from: badC)) { XCTAssertTrue("\($0)".contains("reference c = \(c) is inconsistent"), "\($0)") }
        }
        XCTAssertEqual(s.stateBytes(), bytes)  // a refused restore changes nothing
    }

    /// CSV columns, quoting, and values that parse back exactly.
    func testCSVExport() throws {
        let s = try makeHardness([0.5, 2, 1], beta: 1)
        _ = try s.nextBatch(size: 2)
        let csv = try s.csv(labels: .cases(["a", "b,c", "d"]))
        let lines = csv.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(lines[0], "index,case_id,stale_loss,probability,times_drawn")
        XCTAssertTrue(lines[2].hasPrefix("1,\"b,c\",2.0,"), lines[2])
        let p = s.probabilities()
        for i in [0, 2] {
            let f = lines[i + 1].split(separator: ",")
            XCTAssertEqual(Double(f[3]), p[i])
            XCTAssertEqual(UInt32(f[4]), s.drawCounts[i])
        }
        XCTAssertThrowsError(try s.csv(labels: .cases(["a"])))

        let cells = try PatchCells(cases: [.init(id: "c0", shape: Voxel3(8, 8, 8), foreground: nil)], patchSize: Voxel3(4, 8, 8))
        let t = try makeHardness([1, 1], beta: 1)
        let ccsv = try t.csv(labels: .cells(cells)).split(separator: "\n").map(String.init)
        XCTAssertEqual(ccsv[0], "index,case_id,stale_loss,probability,times_drawn,cell_x,cell_y,cell_z")
        XCTAssertTrue(ccsv[2].hasPrefix("1,c0,1.0,0.5,0,4,0,0"), ccsv[2])
    }
}
