import Common
import XCTest
import Tensor
@testable import Model
import TestSupport

/// The backward with the F(4,3) weight gradients computing their input activation from z
/// (`ConvDispatch.fusesInputActivation`) against the backward that writes each activation first
/// (`WinogradF43.fusedActivationEnabled = false`, as DRO_WINOGRAD_FUSED_ACTIVATION=off): the
/// gradient arena must be the same bits.
final class UNetFusedActivationTests: XCTestCase {
    func testFusedInputActivationGivesTheSameGradients() throws {
        // Level 0 at 16×12×20: F(4,3), rows of 5 tiles (the one-row transform); level 1 F(2,3).
        let opts = UNet3DOptions(inChannels: 2, classes: 3, features: [8, 16]), spatial = [16, 12, 20], n = 2
        guard WinogradF43.fusesInputActivation(width: 20),
              WinogradTile.choose(cin: 8, cout: 8, d: 16, h: 12, w: 20) == .f43 else {
            throw XCTSkip("fused input activation not available (AVX-512, default tile rule)")
        }
        let saved = WinogradF43.fusedActivationEnabled
        defer { WinogradF43.fusedActivationEnabled = saved }
        let v = spatial.reduce(1, *)
        var inputRng = SplitMix64(seed: 51)
        let x = (0..<(n * opts.inChannels * v)).map { _ in Float.random(in: -1..<1, using: &inputRng) }
        let labels = (0..<(n * v)).map { Int32(($0 / 5) % 3) }
        var grads: [[Float]] = []
        for fused in [false, true] {
            WinogradF43.fusedActivationEnabled = fused
            var rng = SplitMix64(seed: 50)
            let net = try UNet3D(options: opts, threads: 2, rng: &rng)
            net.convAlgorithm = .winograd
            grads.append(try net.lossStep(x: x, labels: labels, batch: n, spatial: spatial).gradients)
        }
        XCTAssertTrue(grads[0].contains { $0 != 0 })
        XCTAssertEqual(grads[1].map(\.bitPattern), grads[0].map(\.bitPattern))
    }
}
