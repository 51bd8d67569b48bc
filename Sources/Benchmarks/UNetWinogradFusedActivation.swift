import Common
import Foundation
import Tensor

/// `dro-bench unet --conv-phases` with `DRO_BENCH_PHASES=f43act`: for every F(4,3) layer whose
/// weight gradient can compute its input activation itself (`WinogradF43.fusesInputActivation`),
/// the weight gradient on a written activation (`InstanceNormLeakyReLU.apply` into a buffer, then
/// `backwardWeight`, as the training backward does with DRO_WINOGRAD_FUSED_ACTIVATION=off), the
/// weight gradient alone on that buffer, and the fused call on z — alternating in one process,
/// `DRO_BENCH_ROUNDS` rounds (default 7), median and best ms per call (thread CPU time with
/// `DRO_BENCH_CLOCK=cpu`). `DRO_BENCH_LAYERS` filters as for `winograd`.
enum UNetWinogradFusedActivation {
    static func report(_ o: UNetBenchOptions) -> String {
        let rounds = ProcessInfo.processInfo.environment["DRO_BENCH_ROUNDS"].flatMap { Int($0) } ?? 7
        var text = "F(4,3) weight gradient with the input activation written first or computed in the transform,"
        text += " ms per call over \(rounds) alternating rounds: median (best)\n"
        text += "layer                 shape              | apply    | dW(a)    | apply + dW(a) | dW(z, fused) | fused / (apply + dW)\n"
        var rng = SplitMix64(seed: o.seed)
        let slope: Float = 0.01
        for (name, g) in UNetWinogradPhases.layers(o)
        where UNetWinogradPhases.layerFilter.map({ parts in parts.contains { name.contains($0) } }) ?? true {
            let (n, ci, co, d, h, wd) = (g.batch, g.inChannels, g.outChannels, g.inD, g.inH, g.inW)
            guard WinogradTile.choose(cin: ci, cout: co, d: d, h: h, w: wd, batch: n) == .f43,
                  WinogradF43.fusesInputActivation(width: wd) else { continue }
            let z = FloatBuffer(count: g.inputCount), a = FloatBuffer(count: g.inputCount)
            let dy = FloatBuffer(count: g.outputCount), dw = FloatBuffer(count: g.weightCount)
            let db = FloatBuffer(count: co)
            for i in 0..<g.inputCount { z[i] = Float.random(in: -1..<1, using: &rng) }
            for i in 0..<g.outputCount { dy[i] = Float.random(in: -1..<1, using: &rng) }
            let rows = n * ci, voxels = d * h * wd
            let gamma = (0..<ci).map { _ in Float.random(in: 0.5..<1.5, using: &rng) }
            let beta = (0..<ci).map { _ in Float.random(in: -0.2..<0.2, using: &rng) }
            let mean = (0..<rows).map { _ in Float.random(in: -0.1..<0.1, using: &rng) }
            let rstd = (0..<rows).map { _ in Float.random(in: 1..<2, using: &rng) }
            var scale = [Float](repeating: 0, count: rows), shift = [Float](repeating: 0, count: rows)
            InstanceNormLeakyReLU.rowConstants(gamma: gamma, beta: beta, mean: mean, rstd: rstd, batch: n, channels: ci,
                                               scale: &scale, shift: &shift)
            let ws = Workspace()
            func apply() {
                InstanceNormLeakyReLU.apply(x: z.pointer, gamma: gamma, beta: beta, mean: mean, rstd: rstd, y: a.pointer,
                                            batch: n, channels: ci, voxels: voxels, slope: slope, threads: o.threads)
            }
            func weight(_ x: UnsafePointer<Float>, _ act: WinogradInputActivation?) {
                WinogradF43.backwardWeight(x: x, dy: dy.pointer, dweight: dw.pointer, dbias: db.pointer, n: n, cin: ci,
                                           cout: co, d: d, h: h, width: wd, workspace: ws, activation: act)
            }
            func clock(_ body: () -> Void) -> Double {
                let t0 = UNetConvPhases.now(); body(); return UNetConvPhases.now() - t0
            }
            var tApply: [Double] = [], tWeight: [Double] = [], tFused: [Double] = []
            scale.withUnsafeBufferPointer { sc in
                shift.withUnsafeBufferPointer { sh in
                    let act = WinogradInputActivation(scale: sc.baseAddress!, shift: sh.baseAddress!, slope: slope)
                    apply(); weight(a.pointer, nil); weight(z.pointer, act)   // warm-up
                    for round in 0..<rounds {
                        let fusedFirst = round % 2 == 1
                        if fusedFirst { tFused.append(clock { weight(z.pointer, act) }) }
                        tApply.append(clock { apply() })
                        tWeight.append(clock { weight(a.pointer, nil) })
                        if !fusedFirst { tFused.append(clock { weight(z.pointer, act) }) }
                    }
                }
            }
            let sum = zip(tApply, tWeight).map { $0 + $1 }
            func med(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
            let shape = "\(ci)→\(co) \(d)×\(h)×\(wd)"
            text += String(format: "%-21@ %-18@ | %5.1f (%5.1f) | %5.1f (%5.1f) | %6.1f (%6.1f) | %6.1f (%6.1f) | %.3f (%.3f)\n",
                           name as NSString, shape as NSString, med(tApply), tApply.min()!, med(tWeight),
                           tWeight.min()!, med(sum), sum.min()!, med(tFused), tFused.min()!,
                           med(tFused) / med(sum), tFused.min()! / sum.min()!)
            text += "  per round fused / (apply + dW): "
                + zip(tFused, sum).map { String(format: "%.3f", $0 / $1) }.joined(separator: " ") + "\n"
        }
        return text
    }
}
