import XCTest
import Tensor
@testable import Model

/// The U-Net's dispatch of a stride-2 layer whose forward runs im2col and whose backward runs the
/// direct polyphase products (Cout = 128, output planes 12², ConvPolyphase+Backward.swift): the
/// dispatched backward is bit for bit `ConvPolyphase.backward` with the direct kernel, and within
/// Float rounding of the im2col backward it replaces; `.im2col` (the oracle algorithm) keeps im2col.
final class ConvDispatchStride2BackwardTests: XCTestCase {
    func testDispatchedBackwardIsTheDirectPolyphaseBackward() throws {
        try XCTSkipUnless(ConvPolyphase.choice == .automatic, "DRO_STRIDE2 forces one path for both directions")
        let g = Conv3dGeometry(batch: 2, inChannels: 6, outChannels: 128, inD: 5, inH: 24, inW: 23, kernel: 3, stride: 2, padding: 1)
        let direct = CPUFeatures.avx512 && !ConvPolyphase.backwardFollowsForward
        if !direct {
            // Without AVX-512 (DRO_PORTABLE_KERNELS=1) or with DRO_STRIDE2_BACKWARD=forward: im2col.
            XCTAssertNil(ConvDispatch.polyphaseBackwardKernel(g, .auto))
            XCTAssertEqual(ConvDispatch.path(g, .auto, backward: true), ConvDispatch.path(g, .auto))
            return
        }
        XCTAssertFalse(ConvDispatch.usesPolyphase(g, .auto), "the forward stays on im2col")
        XCTAssertEqual(ConvDispatch.polyphaseBackwardKernel(g, .auto), .direct)
        XCTAssertNil(ConvDispatch.polyphaseBackwardKernel(g, .im2col))
        XCTAssertEqual(ConvDispatch.path(g, .auto, backward: true), "polyphase-avx512")
        var rng = SystemRandomNumberGenerator()
        let x = (0..<g.inputCount).map { _ in Float.random(in: -1..<1, using: &rng) }
        let w = (0..<g.weightCount).map { _ in Float.random(in: -0.1..<0.1, using: &rng) }
        let dy = (0..<g.outputCount).map { _ in Float.random(in: -1..<1, using: &rng) }
        let ws = Workspace(), wws = Workspace()
        for accumulate in [false, true] {
            func run(_ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void)
                -> (dx: [Float], dw: [Float], db: [Float]) {
                var dx = [Float](repeating: accumulate ? 0.5 : .nan, count: g.inputCount)
                var dw = [Float](repeating: 0.25, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
                dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
                    db.withUnsafeMutableBufferPointer { dbp in body(dxp.baseAddress!, dwp.baseAddress!, dbp.baseAddress!) } } }
                return (dx, dw, db)
            }
            let dispatched = run { dx, dw, db in
                ConvDispatch.backward(x: x, w: w, dy: dy, dx: dx, dw: dw, dbias: db, g: g, algorithm: .auto, workspace: ws,
                                      winogradWorkspace: wws, accumulateInput: accumulate, threads: 2)
            }
            let direct = run { dx, dw, db in
                ConvPolyphase.backward(x: x, w: w, dy: dy, dx: dx, dw: dw, dbias: db, g: g, workspace: ws,
                                       accumulateInput: accumulate, kernel: .direct, threads: 2)
            }
            let oracle = run { dx, dw, db in
                ConvDispatch.backward(x: x, w: w, dy: dy, dx: dx, dw: dw, dbias: db, g: g, algorithm: .im2col, workspace: ws,
                                      winogradWorkspace: wws, accumulateInput: accumulate, threads: 2)
            }
            XCTAssertEqual(dispatched.dx.map(\.bitPattern), direct.dx.map(\.bitPattern), "dx, accumulate \(accumulate)")
            XCTAssertEqual(dispatched.dw.map(\.bitPattern), direct.dw.map(\.bitPattern), "dw, accumulate \(accumulate)")
            XCTAssertEqual(dispatched.db.map(\.bitPattern), direct.db.map(\.bitPattern), "dbias, accumulate \(accumulate)")
            // Against im2col + sgemm: relative to each tensor's largest magnitude (Float sums of up to
            // 27·Cin = 162 products (dw: 2·432 columns) in another order: ~1e-6; a wrong path or
            // missing tap ≥ 1e-2). The tensors differ (not the same path): at least one bit differs.
            for (name, a, b) in [("dx", dispatched.dx, oracle.dx), ("dw", dispatched.dw, oracle.dw)] {
                let scale = b.map { abs($0) }.max()!
                let worst = zip(a, b).map { abs($0 - $1) }.max()! / scale
                XCTAssertLessThan(worst, 1e-5, "\(name) against im2col, accumulate \(accumulate)")
            }
            XCTAssertNotEqual(dispatched.dw.map(\.bitPattern), oracle.dw.map(\.bitPattern), "dw: not the im2col path")
        }
    }
}
