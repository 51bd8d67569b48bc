import XCTest
@testable import Tensor

/// Relative error of every convolution kernel the U-Nets run, per layer shape of the reference
/// ([16, 32, 64, 128]) and fetal ([32, 64, 128, 256, 320]) networks, against the definition
/// evaluated in Double (forward, input gradient, weight gradient). Spatial sizes are reduced
/// (16³ up to 32 channels, 4³–8³ above) so the Double reference stays cheap; the error of a Float sum depends on its
/// length (K = 27·Cin for y and dx, N·voxels for dw), so dw at full size is larger than here —
/// the printed figures go to docs/performance.md ("Accuracy of each kernel").
/// Metric: max |a − r| / max |r| over the tensor. Bound: 1e-4 (the project's Float tolerance,
/// also scripts/check_against_torch.py's), ~100× what Float sums of these lengths give.
final class ConvAccuracyTests: XCTestCase {
    struct Case { let name: String; let g: Conv3dGeometry }

    static func cases() -> [Case] {
        func c(_ name: String, _ cin: Int, _ cout: Int, _ s: Int, stride: Int = 1) -> Case {
            Case(name: name, g: Conv3dGeometry(batch: 2, inChannels: cin, outChannels: cout, inD: s, inH: s, inW: s,
                                               kernel: 3, stride: stride, padding: 1))
        }
        return [
            c("first 1→16", 1, 16, 16), c("first 1→32", 1, 32, 16),
            c("s1 16→16", 16, 16, 16), c("s1 32→16 (dec)", 32, 16, 16), c("s1 32→32", 32, 32, 16),
            c("s1 64→64", 64, 64, 8), c("s1 128→128", 128, 128, 6), c("s1 256→128 (dec)", 256, 128, 6),
            c("s1 320→320", 320, 320, 4), c("s1 512→256 (dec)", 512, 256, 4),
            c("s2 16→32", 16, 32, 16, stride: 2), c("s2 32→64", 32, 64, 16, stride: 2),
            c("s2 64→128", 64, 128, 8, stride: 2), c("s2 128→256", 128, 256, 8, stride: 2),
            c("s2 256→320", 256, 320, 6, stride: 2),
        ]
    }

    /// Forward, dx and dw of the definition in Double.
    static func reference(x: [Double], w: [Double], dy: [Double], g: Conv3dGeometry) -> (y: [Double], dx: [Double], dw: [Double]) {
        var y = [Double](repeating: 0, count: g.outputCount)
        var dx = [Double](repeating: 0, count: g.inputCount), dw = [Double](repeating: 0, count: g.weightCount)
        let inV = g.inVoxels, outV = g.outVoxels
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in dy.withUnsafeBufferPointer { gp in
        y.withUnsafeMutableBufferPointer { yp in dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
            for n in 0..<g.batch { for kd in 0..<3 { for kh in 0..<3 { for kw in 0..<3 {
                let tap = (kd * 3 + kh) * 3 + kw
                for od in 0..<g.outD { let id = od * g.stride - 1 + kd; guard id >= 0, id < g.inD else { continue }
                for oh in 0..<g.outH { let ih = oh * g.stride - 1 + kh; guard ih >= 0, ih < g.inH else { continue }
                for ow in 0..<g.outW { let iw = ow * g.stride - 1 + kw; guard iw >= 0, iw < g.inW else { continue }
                    let o = (od * g.outH + oh) * g.outW + ow, i = (id * g.inH + ih) * g.inW + iw
                    for co in 0..<g.outChannels {
                        let yi = (n * g.outChannels + co) * outV + o
                        let gy = gp[yi]
                        var s = 0.0
                        for ci in 0..<g.inChannels {
                            let xi = (n * g.inChannels + ci) * inV + i, wi = (co * g.inChannels + ci) * 27 + tap
                            s += wp[wi] * xp[xi]
                            dxp[xi] += wp[wi] * gy
                            dwp[wi] += xp[xi] * gy
                        }
                        yp[yi] += s
                    }
                }}}
            }}}}
        }}}}}}
        return (y, dx, dw)
    }

    static func relative(_ a: [Float], _ r: [Double]) -> Double {
        var worst = 0.0, scale = 0.0
        for i in r.indices { worst = max(worst, abs(Double(a[i]) - r[i])); scale = max(scale, abs(r[i])) }
        return worst / max(scale, 1e-30)
    }

    func testEveryKernelAgainstDouble() {
        var lines: [String] = []
        for (k, c) in Self.cases().enumerated() {
            let g = c.g
            let x = randomDoubles(g.inputCount, seed: 11 + UInt64(k)), dy = randomDoubles(g.outputCount, seed: 31 + UInt64(k))
            // He-like weight scale so y and dx keep an O(1) scale whatever K is.
            let w = randomDoubles(g.weightCount, seed: 21 + UInt64(k), scale: (3.0 / Double(g.columnRows)).squareRoot())
            // Inputs rounded to Float first: the reference then measures only the kernels' arithmetic.
            let xf = floats(x), wf = floats(w), gf = floats(dy)
            let ref = Self.reference(x: xf.map(Double.init), w: wf.map(Double.init), dy: gf.map(Double.init), g: g)
            var algorithms: [(String, (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                       UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void)] = []
            let ws = Workspace()
            algorithms.append(("im2col+sgemm", { xp, wp, gp, yp, dxp, dwp in
                Conv3d.forward(x: xp, w: wp, bias: nil, y: yp, g: g, workspace: ws, tile: Conv3d.tileColumns(g), threads: 2)
                Conv3d.backward(x: xp, w: wp, dy: gp, dx: dxp, dw: dwp, dbias: nil, g: g, workspace: ws,
                                tile: Conv3d.tileColumns(g), threads: 2)
            }))
            if g.stride == 1 && g.inChannels == 1 {
                algorithms.append(("direct (Cin = 1)", { xp, wp, gp, yp, dxp, dwp in
                    Conv3d.forward(x: xp, w: wp, bias: nil, y: yp, g: g, workspace: ws, threads: 2)
                    Conv3d.backward(x: xp, w: wp, dy: gp, dx: nil, dw: dwp, dbias: nil, g: g, workspace: ws, threads: 2)
                    dxp.update(repeating: .nan, count: g.inputCount)
                }))
            }
            if g.stride == 1 && g.inChannels > 1 {
                for (label, tile) in [("winograd F(2,3)", WinogradTile.f23), ("winograd F(4,3)", .f43)] {
                    algorithms.append((label, { xp, wp, gp, yp, dxp, dwp in
                        tile.forward(x: xp, weight: wp, bias: nil, y: yp, n: g.batch, cin: g.inChannels,
                                     cout: g.outChannels, d: g.inD, h: g.inH, width: g.inW, workspace: ws)
                        tile.backwardInput(dy: gp, weight: wp, dx: dxp, n: g.batch, cin: g.inChannels,
                                           cout: g.outChannels, d: g.inD, h: g.inH, width: g.inW, workspace: ws)
                        tile.backwardWeight(x: xp, dy: gp, dweight: dwp, dbias: nil, n: g.batch, cin: g.inChannels,
                                            cout: g.outChannels, d: g.inD, h: g.inH, width: g.inW, workspace: ws)
                    }))
                }
            }
            if ConvPolyphase.applies(g) && g.stride == 2 {
                var kernels: [(String, ConvPolyphase.Kernel)] = [("polyphase+sgemm", .sgemm)]
                if CPUFeatures.avx512 { kernels.append(("polyphase direct", .direct)) }
                for (label, kernel) in kernels {
                    algorithms.append((label, { xp, wp, gp, yp, dxp, dwp in
                        ConvPolyphase.forward(x: xp, w: wp, bias: nil, y: yp, g: g, workspace: ws, kernel: kernel, threads: 2)
                        ConvPolyphase.backward(x: xp, w: wp, dy: gp, dx: dxp, dw: dwp, dbias: nil, g: g, workspace: ws,
                                               kernel: kernel, threads: 2)
                    }))
                }
            }
            for (name, run) in algorithms {
                var y = [Float](repeating: .nan, count: g.outputCount), dx = [Float](repeating: .nan, count: g.inputCount)
                var dw = [Float](repeating: 0, count: g.weightCount)
                xf.withPtr { xp in wf.withPtr { wp in gf.withPtr { gp in run(xp, wp, gp, &y, &dx, &dw) } } }
                let ey = Self.relative(y, ref.y), ew = Self.relative(dw, ref.dw)
                let ex = dx.contains { $0.isNaN } ? .nan : Self.relative(dx, ref.dx)
                lines.append(String(format: "%-18@ %-17@ y %.1e  dx %@  dw %.1e", c.name as NSString, name as NSString,
                                    ey, (ex.isNaN ? "   –   " : String(format: "%.1e", ex)) as NSString, ew))
                XCTAssertLessThan(ey, 1e-4, "\(c.name) \(name) y")
                XCTAssertLessThan(ew, 1e-4, "\(c.name) \(name) dw")
                if !ex.isNaN { XCTAssertLessThan(ex, 1e-4, "\(c.name) \(name) dx") }
            }
        }
        print("[accuracy] max |error| / max |reference| against Double, per kernel (batch 2):")
        for l in lines { print("[accuracy] " + l) }
    }
}
