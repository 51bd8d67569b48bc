import Common
import Foundation
import Tensor

/// `dro-bench unet --conv-phases`, Winograd part: every distinct stride-1 3×3×3 layer of the
/// network that runs Winograd (Cin ≥ 4), timed with F(2,3) and with F(4,3) — forward, input
/// gradient and weight gradient separately, best of `UNetConvPhases.repeats` runs (thread CPU
/// time with `DRO_BENCH_CLOCK=cpu`), ms per call — and the tile `WinogradTile.automatic` picks.
/// `DRO_BENCH_PHASES=winograd` prints only this part; `DRO_BENCH_LAYERS=dec1.0,enc2.1` keeps the
/// layers whose name contains one of the comma-separated parts (for profiling one layer), and
/// `DRO_BENCH_TILES=f43` (or `f23`) times only that tile (the other's columns print 0).
enum UNetWinogradPhases {
    /// `DRO_BENCH_LAYERS` parts, nil = every layer.
    static let layerFilter: [String]? = ProcessInfo.processInfo.environment["DRO_BENCH_LAYERS"]
        .map { $0.split(separator: ",").map(String.init) }
    /// The tiles `DRO_BENCH_TILES` asks for (both by default).
    static let tiles: Set<WinogradTile> = {
        switch ProcessInfo.processInfo.environment["DRO_BENCH_TILES"] {
        case "f43"?: return [.f43]
        case "f23"?: return [.f23]
        default: return [.f23, .f43]
        }
    }()

    /// (names, geometry) of the distinct Winograd layers: encoder l.1 and decoder l.0 / l.1.
    static func layers(_ o: UNetBenchOptions) -> [(String, Conv3dGeometry)] {
        var out: [(String, Conv3dGeometry)] = []
        var size = o.patch
        for (l, f) in o.features.enumerated() {
            if l > 0 { size = size.map { ($0 + 1) / 2 } }
            var shapes = [("enc\(l).1", f, f)]
            if l < o.features.count - 1 { shapes += [("dec\(l).0", 2 * f, f), ("dec\(l).1", f, f)] }
            for (name, cin, cout) in shapes {
                let g = Conv3dGeometry(batch: o.batch, inChannels: cin, outChannels: cout, inD: size[0], inH: size[1],
                                       inW: size[2], kernel: 3, stride: 1, padding: 1)
                if let k = out.firstIndex(where: { $0.1.inChannels == cin && $0.1.outChannels == cout && $0.1.inD == size[0] }) {
                    out[k].0 += "=" + name
                } else {
                    out.append((name, g))
                }
            }
        }
        return out
    }

    static func report(_ o: UNetBenchOptions) -> String {
        var text = "Winograd layers: F(2,3) vs F(4,3), ms per call (best of \(UNetConvPhases.repeats))"
        text += UNetConvPhases.threadClock ? ", thread CPU time\n" : "\n"
        text += "layer                 shape              |  F(2,3) fwd    dx    dW   sum |  F(4,3) fwd    dx    dW   sum | ratio | rule\n"
        var rng = SplitMix64(seed: o.seed)
        for (name, g) in layers(o) where layerFilter.map({ parts in parts.contains { name.contains($0) } }) ?? true {
            let x = FloatBuffer(count: g.inputCount), w = FloatBuffer(count: g.weightCount)
            let y = FloatBuffer(count: g.outputCount), dx = FloatBuffer(count: g.inputCount)
            let dw = FloatBuffer(count: g.weightCount), db = FloatBuffer(count: g.outChannels)
            for i in 0..<g.inputCount { x[i] = Float.random(in: -1..<1, using: &rng) }
            for i in 0..<g.weightCount { w[i] = Float.random(in: -0.1..<0.1, using: &rng) }
            for i in 0..<g.outputCount { y[i] = Float.random(in: -1..<1, using: &rng) }
            let ws = Workspace()
            let (n, ci, co, d, h, wd) = (g.batch, g.inChannels, g.outChannels, g.inD, g.inH, g.inW)
            var times: [Double] = []
            for tile in [WinogradTile.f23, .f43] {
                guard tiles.contains(tile) else { times += [0, 0, 0]; continue }
                times.append(UNetConvPhases.time {
                    tile.forward(x: x.pointer, weight: w.pointer, bias: db.pointer, y: y.pointer, n: n, cin: ci,
                                 cout: co, d: d, h: h, width: wd, workspace: ws) })
                times.append(UNetConvPhases.time {
                    tile.backwardInput(dy: y.pointer, weight: w.pointer, dx: dx.pointer, n: n, cin: ci, cout: co,
                                       d: d, h: h, width: wd, workspace: ws) })
                times.append(UNetConvPhases.time {
                    tile.backwardWeight(x: x.pointer, dy: y.pointer, dweight: dw.pointer, dbias: db.pointer, n: n,
                                        cin: ci, cout: co, d: d, h: h, width: wd, workspace: ws) })
            }
            var split = ""
            if tiles.contains(.f43) {
                // One more call of each pass with the phase clock on (thread CPU time per phase).
                WinogradPhaseClock.setEnabled(true)
                WinogradPhaseClock.reset()
                WinogradTile.f43.forward(x: x.pointer, weight: w.pointer, bias: db.pointer, y: y.pointer, n: n, cin: ci,
                                         cout: co, d: d, h: h, width: wd, workspace: ws)
                let f = WinogradPhaseClock.read()
                WinogradPhaseClock.reset()
                WinogradTile.f43.backwardInput(dy: y.pointer, weight: w.pointer, dx: dx.pointer, n: n, cin: ci, cout: co,
                                               d: d, h: h, width: wd, workspace: ws)
                let b = WinogradPhaseClock.read()
                WinogradPhaseClock.setEnabled(false)
                split = String(format: "  F(4,3) phases, ms (one call): fwd input %.1f GEMM %.1f output %.1f"
                               + " | dx input %.1f GEMM %.1f output %.1f\n", f.input, f.gemm, f.output,
                               b.input, b.gemm, b.output)
            }
            let s23 = times[0] + times[1] + times[2], s43 = times[3] + times[4] + times[5]
            let shape = "\(ci)→\(co) \(d)×\(h)×\(wd)"
            let rule = WinogradTile.automatic(cin: ci, cout: co, d: d, h: h, w: wd, batch: n).rawValue
            text += String(format: "%-21@ %-18@ | %10.1f %5.1f %5.1f %5.1f | %10.1f %5.1f %5.1f %5.1f | %5.2f | %@\n",
                           name as NSString, shape as NSString, times[0], times[1], times[2], s23,
                           times[3], times[4], times[5], s43, s43 / s23, rule as NSString) + split
        }
        text += "ratio = F(4,3) sum / F(2,3) sum (fwd + dx + dW); rule = WinogradTile.automatic's choice\n"
        return text
    }
}
