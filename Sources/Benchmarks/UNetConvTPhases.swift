import Common
import Foundation
import Tensor

/// `dro-bench unet --conv-phases` with `DRO_BENCH_PHASES=convt`: every transposed conv of the
/// network on each of its paths — the direct AVX-512 kernel (when the CPU has it), the gather +
/// two GEMMs path at its own tile — forward, backward (dx + dW) and the weight gradient alone
/// (dx skipped); dx alone = bwd − dW. ms per call, best of `UNetConvPhases.repeats`; the path the
/// U-Net runs is marked *.
enum UNetConvTPhases {
    static func layers(_ o: UNetBenchOptions) -> [(String, ConvTranspose3dGeometry)] {
        var out: [(String, ConvTranspose3dGeometry)] = []
        var size = o.patch
        var sizes: [[Int]] = [size]
        for _ in 1..<o.features.count { size = size.map { $0 / 2 }; sizes.append(size) }
        for l in stride(from: o.features.count - 2, through: 0, by: -1) {
            let s = sizes[l + 1]
            out.append(("up\(l)", ConvTranspose3dGeometry(batch: o.batch, inChannels: o.features[l + 1], outChannels: o.features[l],
                                                          inD: s[0], inH: s[1], inW: s[2])))
        }
        return out
    }

    static func report(_ o: UNetBenchOptions) -> String {
        var text = "transposed convs: path | fwd | bwd (dx + dW) | dW alone | dx = bwd − dW | GFLOP/s bwd  (ms; the U-Net's choice marked *)\n"
        var rng = SplitMix64(seed: o.seed)
        for (name, g) in layers(o) {
            let x = FloatBuffer(count: g.inputCount), w = FloatBuffer(count: g.weightCount), b = FloatBuffer(count: g.outChannels)
            let y = FloatBuffer(count: g.outputCount), dx = FloatBuffer(count: g.inputCount), dw = FloatBuffer(count: g.weightCount)
            let db = FloatBuffer(count: g.outChannels)
            for i in 0..<g.inputCount { x[i] = Float.random(in: -1..<1, using: &rng) }
            for i in 0..<g.weightCount { w[i] = Float.random(in: -0.1..<0.1, using: &rng) }
            let ws = Workspace()
            let chosen = ConvTranspose3d.kernelName(g, backward: true)
            let gemmTile = ConvTranspose3d.tileSize(rows: g.outChannels * g.kernelVolume, inVoxels: g.inVoxels)
            let flops = 2.0 * Double(g.batch * g.inChannels * g.outChannels * g.kernelVolume * g.inVoxels)
            var paths: [(String, ConvTranspose3d.Kernel?)] = [("auto", nil), ("gemm", .gemm)]
            if ConvTranspose3d.supports(.direct, g) { paths.append(("direct", .direct)); paths.append(("packed", .packed)) }
            for (label, path) in paths {
                let tile: Int? = path == .gemm ? gemmTile : nil
                let fwd = time { ConvTranspose3d.forward(x: x.pointer, w: w.pointer, bias: b.pointer, y: y.pointer, g: g, workspace: ws,
                                                         tile: path == .gemm ? gemmTile : nil, path: path, threads: o.threads) }
                let bwd = time { ConvTranspose3d.backward(x: x.pointer, w: w.pointer, dy: y.pointer, dx: dx.pointer, dw: dw.pointer,
                                                          dbias: db.pointer, g: g, workspace: ws, tile: tile, path: path,
                                                          threads: o.threads) }
                let dwOnly = time { ConvTranspose3d.backward(x: x.pointer, w: w.pointer, dy: y.pointer, dx: nil, dw: dw.pointer,
                                                             dbias: db.pointer, g: g, workspace: ws, tile: tile, path: path,
                                                             threads: o.threads) }
                let name2 = label == "auto" ? "auto=\(chosen)" : label
                text += String(format: "%-5@ %-28@ | %6.1f | %6.1f | %6.1f | %6.1f | %5.1f\n", name as NSString, name2 as NSString,
                               fwd, bwd, dwOnly, bwd - dwOnly, 2 * flops / (bwd * 1e-3) / 1e9)
            }
        }
        return text
    }

    static func time(_ body: () -> Void) -> Double { UNetConvPhases.time(body) }
}
