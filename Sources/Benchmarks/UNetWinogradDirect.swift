import Common
import Foundation
import Tensor

/// `DRO_BENCH_PHASES=f43direct dro-bench unet --conv-phases`: the F(4,3) forward and input
/// gradient of every distinct 3×3×3 layer at F(4,3) sizes (≥ 24³, ≤ 128 channels; filter with
/// `DRO_BENCH_LAYERS`) with each `DRO_WINOGRAD_DIRECT` choice (off, small, all), alternating in one
/// process for `rounds` rounds (variant order rotated per round); per variant the median and the
/// best call (thread CPU time with `DRO_BENCH_CLOCK=cpu`), ms, and the medians' ratio to `off`.
enum UNetWinogradDirect {
    static let rounds = Int(ProcessInfo.processInfo.environment["DRO_BENCH_ROUNDS"] ?? "") ?? 7
    static let modes = ["off", "small", "all"]

    static func report(_ o: UNetBenchOptions) -> String {
        guard rounds > 0 else { return "" }   // DRO_BENCH_ROUNDS=0: the GEMM part alone
        var text = "F(4,3) forward / input gradient per call, DRO_WINOGRAD_DIRECT off | small | all, \(rounds) rounds"
        text += ": median (best) ms, median / off\n"
        var rng = SplitMix64(seed: o.seed)
        for (name, g) in UNetWinogradPhases.layers(o) where g.inD >= 24 && g.inChannels <= 128
            && (UNetWinogradPhases.layerFilter.map { parts in parts.contains { name.contains($0) } } ?? true) {
            let x = FloatBuffer(count: g.inputCount), w = FloatBuffer(count: g.weightCount)
            let y = FloatBuffer(count: g.outputCount), dx = FloatBuffer(count: g.inputCount)
            let b = FloatBuffer(count: g.outChannels)
            for i in 0..<g.inputCount { x[i] = Float.random(in: -1..<1, using: &rng) }
            for i in 0..<g.weightCount { w[i] = Float.random(in: -0.1..<0.1, using: &rng) }
            for i in 0..<g.outputCount { y[i] = Float.random(in: -1..<1, using: &rng) }
            let ws = Workspace()
            let (n, ci, co, d, h, wd) = (g.batch, g.inChannels, g.outChannels, g.inD, g.inH, g.inW)
            var fwd = [[Double]](repeating: [], count: modes.count), bwd = fwd
            for round in 0...rounds {
                for k in 0..<modes.count {
                    let v = (k + round) % modes.count
                    WinogradPhaseClock.setDirectMode(modes[v])
                    var t0 = UNetConvPhases.now()
                    WinogradTile.f43.forward(x: x.pointer, weight: w.pointer, bias: b.pointer, y: y.pointer, n: n,
                                             cin: ci, cout: co, d: d, h: h, width: wd, workspace: ws)
                    let tf = UNetConvPhases.now() - t0
                    t0 = UNetConvPhases.now()
                    WinogradTile.f43.backwardInput(dy: y.pointer, weight: w.pointer, dx: dx.pointer, n: n, cin: ci,
                                                   cout: co, d: d, h: h, width: wd, workspace: ws)
                    let tb = UNetConvPhases.now() - t0
                    if round > 0 { fwd[v].append(tf); bwd[v].append(tb) }   // round 0 warms up
                }
            }
            WinogradPhaseClock.setDirectMode(ProcessInfo.processInfo.environment["DRO_WINOGRAD_DIRECT"] ?? "small")
            func median(_ a: [Double]) -> Double { let s = a.sorted(); return s[s.count / 2] }
            for (label, t) in [("fwd", fwd), ("dx", bwd)] {
                text += String(format: "%-21@ %-3@ %3d→%-3d", name as NSString, label as NSString, ci, co)
                for v in 0..<modes.count {
                    text += String(format: " | %@ %7.1f (%7.1f) %5.3f", modes[v] as NSString, median(t[v]),
                                   t[v].min() ?? .nan, median(t[v]) / median(t[0]))
                }
                text += "\n"
            }
        }
        return text
    }
}
