import Common
import Foundation
import Tensor

/// `DRO_BENCH_PHASES=smalldw`: the Winograd weight gradient of every distinct stride-1 3×3×3
/// layer (filtered by `DRO_BENCH_LAYERS`) on F(2,3) and F(4,3) (`DRO_BENCH_TILES`), with the
/// chunked path (`DRO_WINOGRAD_SMALL_DW=off`) and the few-tiles path (`on`) in alternating
/// pairs in one process: per pair the best of `UNetConvPhases.repeats` calls of each, then the
/// best times and the pairs' ratios (few-tiles / chunked: min, median, max). The mode is left at
/// the environment's afterwards.
enum UNetWinogradSmallDW {
    static let pairs = 5

    static func report(_ o: UNetBenchOptions) -> String {
        var text = "Winograd weight gradient: chunked (off) vs few tiles (on), ms per call, \(pairs) alternating pairs"
        text += UNetConvPhases.threadClock ? ", thread CPU time\n" : "\n"
        text += "layer                 shape              tile | tiles |   off    on | ratio min   med   max | auto\n"
        var rng = SplitMix64(seed: o.seed)
        let initial = ProcessInfo.processInfo.environment["DRO_WINOGRAD_SMALL_DW"] ?? "auto"
        defer { WinogradPhaseClock.setSmallWeightGradient(initial) }
        for (name, g) in UNetWinogradPhases.layers(o)
        where UNetWinogradPhases.layerFilter.map({ parts in parts.contains { name.contains($0) } }) ?? true {
            let x = FloatBuffer(count: g.inputCount), dy = FloatBuffer(count: g.outputCount)
            let dw = FloatBuffer(count: g.weightCount), db = FloatBuffer(count: g.outChannels)
            for i in 0..<g.inputCount { x[i] = Float.random(in: -1..<1, using: &rng) }
            for i in 0..<g.outputCount { dy[i] = Float.random(in: -1..<1, using: &rng) }
            let ws = Workspace()
            let (n, ci, co, d, h, wd) = (g.batch, g.inChannels, g.outChannels, g.inD, g.inH, g.inW)
            for tile in [WinogradTile.f23, .f43] where UNetWinogradPhases.tiles.contains(tile) {
                var off: [Double] = [], on: [Double] = []
                for _ in 0..<pairs {
                    for mode in ["off", "on"] {
                        WinogradPhaseClock.setSmallWeightGradient(mode)
                        let t = UNetConvPhases.time {
                            tile.backwardWeight(x: x.pointer, dy: dy.pointer, dweight: dw.pointer, dbias: db.pointer,
                                                n: n, cin: ci, cout: co, d: d, h: h, width: wd, workspace: ws)
                        }
                        if mode == "off" { off.append(t) } else { on.append(t) }
                    }
                }
                let ratios = zip(on, off).map { $0 / $1 }.sorted()
                let side = tile == .f23 ? 2 : 4
                let tiles = n * ((d + side - 1) / side) * ((h + side - 1) / side) * ((wd + side - 1) / side)
                let auto = WinogradFewTilesWeightGradient.prefers(tiles: tiles, cin: ci, cout: co,
                                                                  workers: Parallel.defaultThreads)
                text += String(format: "%-21@ %-18@ %@ | %5d | %5.1f %5.1f | %9.2f %5.2f %5.2f | %@\n",
                               name as NSString, "\(ci)→\(co) \(d)×\(h)×\(wd)" as NSString,
                               tile.rawValue as NSString, tiles, off.min()!, on.min()!, ratios.first!,
                               ratios[ratios.count / 2], ratios.last!, (auto ? "on" : "off") as NSString)
            }
        }
        return text
    }
}
