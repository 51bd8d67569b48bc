import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The F(2,3) forward and input gradient of layers with few tiles (the fetal network's 6³
/// bottleneck: 54 tiles in the whole batch against 64·320·320 transformed weights): one chunk
/// holding every tile row of the batch, its input transform split over the workers by channel,
/// the 64 component GEMMs split over the workers by component (each worker reads only its
/// components' weights, N = all tiles), then the output transform split by channel.
///
/// The chunked path gives each worker whole chunks: at 54 tiles that is one chunk of 27 tiles
/// per worker, each streaming all 64 components' weights (26 MB at 320 → 320) through GEMMs of
/// N = 27. The arithmetic per output value is the same here (each tile's transforms, and each
/// GEMM column's sum over the input channels in the kernel's order), so the results are
/// bit-identical to the chunked path (WinogradFewTilesForwardTests).
///
/// `DRO_WINOGRAD_SMALL_FWD`: `auto` (default) where `WinogradFewTilesWeightGradient.prefers`
/// holds for the pass, `on` for every layer, `off` never.
enum WinogradFewTilesForward {
    enum Mode: String, CaseIterable, Sendable { case auto, on, off }

    /// Read once from the environment; settable for tests and same-process measurements.
    nonisolated(unsafe) static var mode: Mode =
        getenv("DRO_WINOGRAD_SMALL_FWD").flatMap { Mode(rawValue: String(cString: $0)) } ?? .auto

    /// Whether a pass from `cin` to `cout` channels over `tiles` tiles runs this path.
    static func applies(tiles: Int, cin: Int, cout: Int, workers: Int) -> Bool {
        switch mode {
        case .on: return true
        case .off: return false
        case .auto: return WinogradFewTilesWeightGradient.prefers(tiles: tiles, cin: cin, cout: cout, workers: workers)
        }
    }

    /// Passes run on this path since the process started (for tests: that it was taken).
    static let calls = Atomic<Int>(0)
}

extension WinogradConv3d {
    /// output [n, cout, …] = conv(input [n, cin, …]) with transformed weights u (prepared for
    /// `kernel`), on `WinogradFewTilesForward`'s schedule over `workers` workers.
    static func convolveFewTiles(input: UnsafePointer<Float>, u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                 output: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int,
                                 d: Int, h: Int, w: Int, workspace: Workspace, kernel: WinogradGEMM.Kernel,
                                 workers: Int, statistics: WinogradNormStatistics? = nil) {
        let plan = fewTilesPlan(n: n, cin: cin, cout: cout, d: d, h: h, width: w)
        precondition(plan.chunkCount == 1, "WinogradConv3d.convolveFewTiles: \(plan.chunkCount) chunks")
        WinogradFewTilesForward.calls.add(1, ordering: .relaxed)
        let gather = statistics.map { _ -> WinogradOutputStatistics in
            let count = WinogradOutputStatistics.doubles(plan: plan, channels: cout)
            let raw = UnsafeMutableRawPointer(workspace.buffer(statisticsSlot, count: 2 * count))
            return WinogradOutputStatistics(plan: plan, channels: cout,
                                            partials: raw.bindMemory(to: Double.self, capacity: count))
        }
        let workers = max(1, workers)
        let xiStride = plan.componentStride, ld = plan.channelStride
        // Worker 0's chunk buffers hold the one chunk; every worker's line buffers and edge vector
        // serve its own channels.
        let scratch = WinogradWorkerScratch.carve(plan: plan, dataChannels: cin, productChannels: cout,
                                                  accumulatorFloats: 0, count: workers,
                                                  workspace: workspace, slot: 1)
        let shared = scratch[0], rows = 0..<plan.rows
        // Channels in runs per worker (a row's whole-vector spill stays within its channel).
        Parallel.forEach(count: workers, threads: workers) { k in
            for c in cin * k / workers ..< cin * (k + 1) / workers {
                WinogradInputTransform.rows(rows, input: input, channel: c, channels: cin, plan: plan,
                                            out: shared.data + c * ld, xiStride: xiStride, lines: scratch[k].lines)
            }
        }
        WinogradGEMM.forward(kernel, u: u, data: shared.data, products: shared.products, cout: cout, cin: cin,
                             tiles: plan.columns(rows: plan.rows), ld: ld, xiStride: xiStride, threads: workers)
        Parallel.forEach(count: workers, threads: workers) { k in
            for co in cout * k / workers ..< cout * (k + 1) / workers {
                for row in rows {
                    let (s, td, th) = plan.decode(row: row)
                    let plane = output + (s * cout + co) * plan.planeSize
                    WinogradTileTransforms.outputRow(
                        src: shared.products + co * ld + row * plan.rowStride, xiStride: xiStride, plane: plane,
                        d: d, h: h, w: w, td: td, th: th, tilesW: plan.tilesW, bias: bias?[co] ?? 0,
                        edge: scratch[k].edge, sink: scratch[k].lines, rowStride: plan.rowStride)
                    gather?.record(row: row, channel: co, plane: plane)
                }
            }
        }
        if let gather, let statistics {
            gather.finish(statistics, threads: workers)
            UnsafeMutableRawPointer(gather.partials).bindMemory(to: Float.self, capacity: 2 * gather.plan.rows * cout)
        }
    }
}
