import XCTest
@testable import Tensor

/// The U-Net keeps only conv outputs z and norm statistics for training: the activation a is
/// recomputed (`InstanceNormLeakyReLU.apply`) and the leaky ReLU mask of the backward taken from
/// z, γ, β (`backward(x:gamma:beta:...)`). Both must give the stored-a results bit for bit —
/// checked here against the forward's own output and the stored-a backward (the formula used
/// before, kept as `backward(...output:...)`), over rows that are not multiples of the 16-lane
/// vectors or of the 1024-element reduction blocks, with γ of both signs and tiny γ against large β.
final class NormRecomputeTests: XCTestCase {
    func check(n: Int, c: Int, v: Int, slope: Float, seed: UInt64) {
        var x = floats(randomDoubles(n * c * v, seed: seed, scale: 3))
        let gamma = floats(randomDoubles(c, seed: seed + 1, scale: 2)).enumerated().map { i, g in i == 1 ? 1e-4 : g }
        let beta = floats(randomDoubles(c, seed: seed + 2, scale: 2)).enumerated().map { i, b in i == 1 ? 5 : b }
        let dy = floats(randomDoubles(n * c * v, seed: seed + 3))
        // Repeated values (every 97th voxel 0); in the second pass β = 0 on channel 0 and on the
        // tiny-γ channel 1, whose pre-activations u = 1e-4·x̂ then all lie within ~3e-4 of the kink.
        for r in 0..<(n * c) { for i in stride(from: 0, to: v, by: 97) { x[r * v + i] = 0 } }
        var betaZero = beta; betaZero[0] = 0; betaZero[1] = 0
        for b in [beta, betaZero] {
            var a = [Float](repeating: .nan, count: x.count), mean = [Float](repeating: 0, count: n * c), rstd = mean
            InstanceNormLeakyReLU.forward(x: x, gamma: gamma, beta: b, y: &a, mean: &mean, rstd: &rstd,
                                          batch: n, channels: c, voxels: v, slope: slope, threads: 2)
            // apply == forward's output, contiguous and into the second half of a concat-like buffer.
            var re = [Float](repeating: .nan, count: x.count)
            InstanceNormLeakyReLU.apply(x: x, gamma: gamma, beta: b, mean: mean, rstd: rstd, y: &re,
                                        batch: n, channels: c, voxels: v, slope: slope, threads: 2)
            XCTAssertEqual(re.map(\.bitPattern), a.map(\.bitPattern))
            var wide = [Float](repeating: -7, count: 2 * x.count)
            wide.withUnsafeMutableBufferPointer { w in
                InstanceNormLeakyReLU.forward(x: x, gamma: gamma, beta: b, y: w.baseAddress! + c * v, ySampleStride: 2 * c * v,
                                              mean: &mean, rstd: &rstd, batch: n, channels: c, voxels: v, slope: slope, threads: 2)
            }
            for s in 0..<n {
                XCTAssertEqual(wide[(2 * s * c * v)..<((2 * s + 1) * c * v)], ArraySlice(repeating: -7, count: c * v))
                XCTAssertEqual(wide[((2 * s + 1) * c * v)..<((2 * s + 2) * c * v)].map(\.bitPattern),
                               a[(s * c * v)..<((s + 1) * c * v)].map(\.bitPattern))
            }
            // Backward with the mask from z against the stored-a backward.
            var dxA = [Float](repeating: .nan, count: x.count), dgA = [Float](repeating: 0.5, count: c), dbA = dgA
            var dxZ = dxA, dgZ = dgA, dbZ = dbA
            InstanceNormLeakyReLU.backward(x: x, gamma: gamma, mean: mean, rstd: rstd, output: a, dOutput: dy, dx: &dxA,
                                           dgamma: &dgA, dbeta: &dbA, batch: n, channels: c, voxels: v, slope: slope, threads: 2)
            InstanceNormLeakyReLU.backward(x: x, gamma: gamma, beta: b, mean: mean, rstd: rstd, dOutput: dy, dx: &dxZ,
                                           dgamma: &dgZ, dbeta: &dbZ, batch: n, channels: c, voxels: v, slope: slope, threads: 2)
            XCTAssertEqual(dxZ.map(\.bitPattern), dxA.map(\.bitPattern), "v = \(v), slope \(slope)")
            XCTAssertEqual(dgZ.map(\.bitPattern), dgA.map(\.bitPattern))
            XCTAssertEqual(dbZ.map(\.bitPattern), dbA.map(\.bitPattern))
            // The mask matters here: some rows have both signs (else the test could not fail).
            let negatives = a.filter { !($0 > 0) }.count
            XCTAssertGreaterThan(negatives, x.count / 10); XCTAssertLessThan(negatives, x.count * 9 / 10)
        }
    }

    func testRecomputedActivationAndMaskEqualStoredOnes() {
        check(n: 2, c: 3, v: 2 * 1024 + 37, slope: 0.01, seed: 11)   // vector + scalar tails, several blocks
        check(n: 1, c: 4, v: 5 * 6 * 7, slope: 0.01, seed: 21)
        check(n: 2, c: 3, v: 16 * 8, slope: 0, seed: 31)              // ReLU: a = ±0 below the kink
    }

    /// The mask path must matter: with the mask from z but a wrong β the gradients change.
    func testRecomputedMaskDependsOnBeta() {
        let n = 1, c = 2, v = 300
        let x = floats(randomDoubles(n * c * v, seed: 41)), gamma: [Float] = [1, -0.5], beta: [Float] = [0.2, -0.3]
        let dy = floats(randomDoubles(n * c * v, seed: 42))
        var a = [Float](repeating: 0, count: x.count), mean = [Float](repeating: 0, count: n * c), rstd = mean
        InstanceNormLeakyReLU.forward(x: x, gamma: gamma, beta: beta, y: &a, mean: &mean, rstd: &rstd, batch: n, channels: c, voxels: v)
        var dx1 = [Float](repeating: 0, count: x.count), dx2 = dx1, dg = [Float](repeating: 0, count: c), db = dg
        InstanceNormLeakyReLU.backward(x: x, gamma: gamma, beta: beta, mean: mean, rstd: rstd, dOutput: dy, dx: &dx1,
                                       dgamma: &dg, dbeta: &db, batch: n, channels: c, voxels: v)
        InstanceNormLeakyReLU.backward(x: x, gamma: gamma, beta: [0.9, 0.4], mean: mean, rstd: rstd, dOutput: dy, dx: &dx2,
                                       dgamma: &dg, dbeta: &db, batch: n, channels: c, voxels: v)
        XCTAssertNotEqual(dx1, dx2)
    }
}
