import Common
import Foundation
import Tensor

/// `dro-bench unet --conv-phases`: where the time of the im2col convolutions goes. For each
/// im2col layer of the reference network (the Cin = 1 first conv and the stride-2 convs) it runs
/// the forward and backward kernels, and then each phase alone over the same tiles: im2col fill,
/// forward GEMM, weight-gradient GEMM, column-gradient GEMM and col2im, so the share of the
/// memory passes and of each GEMM is visible. Best of `repeats` runs (the machine is shared:
/// the minimum is the least disturbed run), ms per call.
public enum UNetConvPhases {
    /// Runs per figure (median reported).
    static let repeats = 5

    /// The reference network's im2col layers for these options (names as in the step profile).
    static func layers(_ o: UNetBenchOptions) -> [(String, Conv3dGeometry)] {
        var out: [(String, Conv3dGeometry)] = []
        var size = o.patch, cin = o.inChannels
        for (l, f) in o.features.enumerated() {
            let stride = l == 0 ? 1 : 2
            let g = Conv3dGeometry(batch: o.batch, inChannels: cin, outChannels: f, inD: size[0], inH: size[1], inW: size[2],
                                   kernel: 3, stride: stride, padding: 1)
            out.append(("enc\(l).0", g))
            size = [g.outD, g.outH, g.outW]
            cin = f
        }
        return out
    }

    /// The kernel's own tile choice first, then the other sizes tried for comparison.
    static func tileSweep(_ g: Conv3dGeometry) -> [Int] {
        let own = Conv3d.tileColumns(g)
        return [own] + [512, 1024, 2048, 4096, 8192].filter { $0 != own && $0 <= g.outVoxels }
    }

    /// `DRO_BENCH_CLOCK=cpu` times with the calling thread's CPU time instead of the wall clock:
    /// with `--threads 1` (OpenBLAS and every pass on the calling thread) that measures the
    /// kernels themselves on a machine shared with other jobs.
    static let threadClock = ProcessInfo.processInfo.environment["DRO_BENCH_CLOCK"] == "cpu"

    static func now() -> Double {
        guard threadClock else { return Double(DispatchTime.now().uptimeNanoseconds) * 1e-6 }
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) * 1e-6
    }

    static func time(_ body: () -> Void) -> Double {
        var samples: [Double] = []
        for run in 0...repeats {
            let t0 = now()
            body()
            if run > 0 { samples.append(now() - t0) }
        }
        return samples.min() ?? .nan
    }

    public static func report(_ o: UNetBenchOptions) -> String {
        Parallel.configure(threads: o.threads)
        let peak = UNetBenchmark.sgemmPeakGFLOPs()
        var text = "dro-bench unet --conv-phases: batch \(o.batch), threads \(o.threads), OpenBLAS \(BLASRuntime.coreDescription)"
        text += threadClock ? ", times = thread CPU time\n" : "\n"
        text += String(format: "sgemm 2048² peak %.1f GFLOP/s; ms per call (best of %d)\n", peak, repeats)
        text += "layer    tile  | fwd   = im2col + gemm   | bwd   = im2col + dW gemm + dcol gemm + col2im\n"
        if ProcessInfo.processInfo.environment["DRO_BENCH_PHASES"] == "winograd" { return text + UNetWinogradPhases.report(o) }
        if ProcessInfo.processInfo.environment["DRO_BENCH_PHASES"] == "stride2" { return text + stride2(o) }
        if ProcessInfo.processInfo.environment["DRO_BENCH_PHASES"] == "f43direct" {
            return text + UNetWinogradDirectGEMM.report(o) + UNetWinogradDirect.report(o)
        }
        if ProcessInfo.processInfo.environment["DRO_BENCH_PHASES"] == "f43act" { return text + UNetWinogradFusedActivation.report(o) }
        if ProcessInfo.processInfo.environment["DRO_BENCH_PHASES"] == "f43weight" { return text + UNetWinogradWeightGEMM.report(o) }
        if ProcessInfo.processInfo.environment["DRO_BENCH_PHASES"] == "smalldw" { return text + UNetWinogradSmallDW.report(o) }
        if ProcessInfo.processInfo.environment["DRO_BENCH_PHASES"] == "convt" { return text + UNetConvTPhases.report(o) }
        var rng = SplitMix64(seed: o.seed)
        for (name, g) in layers(o) {
          for tile in tileSweep(g) {
            let x = FloatBuffer(count: g.inputCount), w = FloatBuffer(count: g.weightCount)
            let y = FloatBuffer(count: g.outputCount), dx = FloatBuffer(count: g.inputCount), dw = FloatBuffer(count: g.weightCount)
            for i in 0..<g.inputCount { x[i] = Float.random(in: -1..<1, using: &rng) }
            for i in 0..<g.weightCount { w[i] = Float.random(in: -0.1..<0.1, using: &rng) }
            for i in 0..<g.outputCount { y[i] = Float.random(in: -1..<1, using: &rng) }
            let needsDx = name != "enc0.0"   // the U-Net never asks for the input image's gradient
            let ws = Workspace(), kr = g.columnRows, ov = g.outVoxels
            // The kernel's own choice runs as in training (nil tile: the direct weight gradient for Cin = 1).
            let own = tile == Conv3d.tileColumns(g) ? nil : tile
            let fwd = time { Conv3d.forward(x: x.pointer, w: w.pointer, bias: nil, y: y.pointer, g: g, workspace: ws, tile: own, threads: o.threads) }
            let bwd = time { Conv3d.backward(x: x.pointer, w: w.pointer, dy: y.pointer, dx: needsDx ? dx.pointer : nil, dw: dw.pointer,
                                             dbias: nil, g: g, workspace: ws, tile: own, threads: o.threads) }
            let col = ws.buffer(0, count: kr * tile), dcol = ws.buffer(1, count: kr * tile)
            // Each phase over every tile of every sample, as the kernels run them.
            func tiles(_ body: (Int, Int, Int) -> Void) {
                for n in 0..<g.batch { var v0 = 0; while v0 < ov { let t = min(tile, ov - v0); body(n, v0, t); v0 += t } }
            }
            let inS = g.inChannels * g.inVoxels, outS = g.outChannels * ov
            let fill = time { tiles { n, v0, t in Im2col.fill(x: x.pointer + n * inS, g: g, v0: v0, count: t, col: col, threads: o.threads) } }
            let gemmF = time { tiles { n, v0, t in BLAS.gemm(m: g.outChannels, n: t, k: kr, a: w.pointer, lda: kr, b: col, ldb: t, beta: 1,
                                                             c: y.pointer + n * outS + v0, ldc: ov) } }
            let gemmW = time { tiles { n, v0, t in BLAS.gemm(transB: true, m: g.outChannels, n: kr, k: t, a: y.pointer + n * outS + v0, lda: ov,
                                                             b: col, ldb: t, beta: 1, c: dw.pointer, ldc: kr) } }
            let gemmC = needsDx ? time { tiles { n, v0, t in BLAS.gemm(transA: true, m: kr, n: t, k: g.outChannels, a: w.pointer, lda: kr,
                                                                       b: y.pointer + n * outS + v0, ldb: ov, beta: 0, c: dcol, ldc: t) } } : 0
            let acc = needsDx ? time { tiles { n, v0, t in Im2col.accumulate(col: dcol, g: g, v0: v0, count: t, dx: dx.pointer + n * inS,
                                                                             threads: o.threads) } } : 0
            let gf = g.forwardFLOPs / 1e9
            text += String(format: "%-7@ %5d  | %5.1f = %5.1f + %5.1f (%2.0f%%) | %5.1f = %5.1f + %5.1f (%2.0f%%) + %5.1f (%2.0f%%) + %5.1f\n",
                           (own == nil && name == "enc0.0" ? "enc0.0*" : name) as NSString, tile, fwd, fill, gemmF, 100 * gf / (gemmF * 1e-3) / peak,
                           bwd, fill, gemmW, 100 * gf / (gemmW * 1e-3) / peak, gemmC,
                           needsDx ? 100 * gf / (gemmC * 1e-3) / peak : 0, acc)
          }
          if ConvPolyphase.applies(g) { text += polyphase(name, g, o, peak: peak) }
        }
        text += "polyphase: the stride-2 layers without im2col (ConvPolyphase), fwd and bwd (dx + dW) per tile size; (%) = direct FLOPs at the sgemm peak\n"
        text += "(%) = that GEMM's rate as a fraction of the sgemm peak; enc0.0*: bwd = the direct Cin = 1 weight-gradient kernel, phases = im2col path\n"
        return text + UNetWinogradPhases.report(o)
    }

    /// `DRO_BENCH_PHASES=stride2`: every stride-2 layer on every path at its own tile — im2col,
    /// the polyphase Winograd algorithm (`WinogradStride2`; bwd = its dx and dW passes timed apart),
    /// polyphase with the 14 GEMMs, polyphase with the direct AVX-512 products (when the CPU has
    /// them) — forward, backward (dx + dW) and the weight gradient alone (dx skipped), plus the
    /// phase split alone; ms per call, best of `repeats`.
    static func stride2(_ o: UNetBenchOptions) -> String {
        var text = "stride-2 layers: path[/slab budget]  | fwd | bwd (dx + dW) | dW alone | split alone | output planes per slab fwd / bwd  (ms; the U-Net's choice marked *)\n"
        for (name, g) in layers(o) where ConvPolyphase.applies(g) {
            let (x, w, y, dx, dw) = operands(g, seed: o.seed)
            let ws = Workspace()
            let split = time { for n in 0..<g.batch { ConvPolyphase.splitSample(x.pointer + n * g.inChannels * g.inVoxels, g: g,
                                                                                workspace: ws, threads: o.threads) } }
            let chosen = WinogradStride2.selected(g) ? "winograd-s2"
                : ConvPolyphase.isProfitable(g) ? ConvPolyphase.automaticKernel(g).rawValue : "im2col"
            let fwdI = time { Conv3d.forward(x: x.pointer, w: w.pointer, bias: nil, y: y.pointer, g: g, workspace: ws, threads: o.threads) }
            let bwdI = time { Conv3d.backward(x: x.pointer, w: w.pointer, dy: y.pointer, dx: dx.pointer, dw: dw.pointer, dbias: nil,
                                              g: g, workspace: ws, threads: o.threads) }
            let dwI = time { Conv3d.backward(x: x.pointer, w: w.pointer, dy: y.pointer, dx: nil, dw: dw.pointer, dbias: nil,
                                             g: g, workspace: ws, threads: o.threads) }
            text += String(format: "%-7@ %-13@%@ | %6.1f | %6.1f | %6.1f |\n", name as NSString, "im2col" as NSString,
                           chosen == "im2col" ? "*" : " ", fwdI, bwdI, dwI)
            if WinogradStride2.applies(g) {
                // The polyphase Winograd algorithm (its own workspace, as in the U-Net's Winograd slots).
                let wws = Workspace()
                let fwd = time { WinogradStride2.forward(x: x.pointer, weight: w.pointer, bias: nil, y: y.pointer, g: g,
                                                         workspace: wws, threads: o.threads) }
                let dwOnly = time { WinogradStride2.backwardWeight(x: x.pointer, dy: y.pointer, dweight: dw.pointer, dbias: nil,
                                                                   g: g, workspace: wws, threads: o.threads) }
                let dxOnly = time { WinogradStride2.backwardInput(dy: y.pointer, weight: w.pointer, dx: dx.pointer, g: g,
                                                                  workspace: wws, threads: o.threads) }
                text += String(format: "%-7@ %-13@%@ | %6.1f | %6.1f | %6.1f |\n", name as NSString, "winograd-s2" as NSString,
                               chosen == "winograd-s2" ? "*" : " ", fwd, dwOnly + dxOnly, dwOnly)
            }
            var kernels: [ConvPolyphase.Kernel] = [.sgemm]
            if CPUFeatures.avx512 { kernels.append(.direct) }
            for k in kernels {
                // Its own slabs first, then other slab budgets (MB; 0 = the whole sample as one slab).
                for mb in [-1, 8, 16, 64, 0] where mb < 0 || k == .direct {
                    let budget = mb < 0 ? ConvPolyphase.slabBudgetBytes : mb == 0 ? Int.max / 2 : mb << 20
                    let sb = ConvPolyphase.slabPlanes(g, kernel: k, backward: true, budget: budget), sf = sb
                    let fwd = time { ConvPolyphase.forward(x: x.pointer, w: w.pointer, bias: nil, y: y.pointer, g: g, workspace: ws,
                                                           kernel: k, slabPlanes: sf, threads: o.threads) }
                    let bwd = time { ConvPolyphase.backward(x: x.pointer, w: w.pointer, dy: y.pointer, dx: dx.pointer, dw: dw.pointer,
                                                            dbias: nil, g: g, workspace: ws, kernel: k, slabPlanes: sb,
                                                            threads: o.threads) }
                    let dwOnly = time { ConvPolyphase.backward(x: x.pointer, w: w.pointer, dy: y.pointer, dx: nil, dw: dw.pointer,
                                                               dbias: nil, g: g, workspace: ws, kernel: k, slabPlanes: sb,
                                                               threads: o.threads) }
                    let label = mb < 0 ? k.rawValue : "\(k.rawValue)/\(mb == 0 ? "whole" : "\(mb)MB")"
                    text += String(format: "%-7@ %-13@%@ | %6.1f | %6.1f | %6.1f | %5.1f | slabs of %d / %d planes\n",
                                   name as NSString, label as NSString, chosen == k.rawValue && mb < 0 ? "*" : " ",
                                   fwd, bwd, dwOnly, split, sf, sb)
                }
            }
        }
        return text
    }

    /// Random x, w and y (y doubles as dy) for layer g, and dx, dw buffers.
    static func operands(_ g: Conv3dGeometry, seed: UInt64)
        -> (x: FloatBuffer, w: FloatBuffer, y: FloatBuffer, dx: FloatBuffer, dw: FloatBuffer) {
        var rng = SplitMix64(seed: seed)
        let x = FloatBuffer(count: g.inputCount), w = FloatBuffer(count: g.weightCount)
        let y = FloatBuffer(count: g.outputCount), dx = FloatBuffer(count: g.inputCount), dw = FloatBuffer(count: g.weightCount)
        for i in 0..<g.inputCount { x[i] = Float.random(in: -1..<1, using: &rng) }
        for i in 0..<g.weightCount { w[i] = Float.random(in: -0.1..<0.1, using: &rng) }
        for i in 0..<g.outputCount { y[i] = Float.random(in: -1..<1, using: &rng) }
        return (x, w, y, dx, dw)
    }

    /// ConvPolyphase forward and backward of one stride-2 layer per tile size (its own choice first).
    static func polyphase(_ name: String, _ g: Conv3dGeometry, _ o: UNetBenchOptions, peak: Double) -> String {
        let (x, w, y, dx, dw) = operands(g, seed: o.seed)
        let ws = Workspace(), columns = ConvPolyphase.extendedColumns(g)
        let own = ConvPolyphase.tileColumns(g), gf = g.forwardFLOPs / 1e9
        var text = ""
        for tile in [own] + [1024, 2048, 4096, 8192, 16384].filter({ $0 != own && $0 <= columns }) {
            let fwd = time { ConvPolyphase.forward(x: x.pointer, w: w.pointer, bias: nil, y: y.pointer, g: g, workspace: ws,
                                                   tile: tile, threads: o.threads) }
            let bwd = time { ConvPolyphase.backward(x: x.pointer, w: w.pointer, dy: y.pointer, dx: dx.pointer, dw: dw.pointer,
                                                    dbias: nil, g: g, workspace: ws, tile: tile, threads: o.threads) }
            let split = time { for n in 0..<g.batch { ConvPolyphase.splitSample(x.pointer + n * g.inChannels * g.inVoxels, g: g,
                                                                                workspace: ws, threads: o.threads) } }
            text += String(format: "%-7@ %5d  | polyphase fwd %5.1f (%2.0f%%) | bwd %5.1f (%2.0f%%) | split alone %5.1f\n",
                           name as NSString, tile, fwd, 100 * gf / (fwd * 1e-3) / peak, bwd, 200 * gf / (bwd * 1e-3) / peak, split)
        }
        return text
    }
}
