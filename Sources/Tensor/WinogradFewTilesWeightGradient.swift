import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The Winograd weight gradient of layers with few tiles (the 12³ and 6³ layers of the fetal
/// network): all tiles' input and output-gradient transforms once, into one shared buffer each
/// (channels split over the workers), then blocks of (output channel × input channel) pairs split
/// over the workers, each block's dU = P · Dᵀ computed by one GEMM per component over ALL tiles
/// (K = tiles) into a block buffer that stays in L2, and its inverse weight transform added
/// straight into dweight.
///
/// The chunked path (`WinogradConv3d.backwardWeight`, `WinogradF43.backwardWeight` with a
/// tuning) gives every worker an accumulator of components·Cin·Cout Floats (F(4,3) at 512 → 256:
/// 113 MB each), zeroes it, accumulates into it chunk by chunk, adds the workers' accumulators
/// and transforms the sum: with 54–432 tiles in the whole batch that is mostly memory traffic
/// on buffers far larger than the data. Here no buffer of components·Cin·Cout exists.
///
/// Results: every block is computed by one worker from the same operands whichever worker takes
/// it, so dweight does not depend on the thread count or the timing (bit-reproducible). The
/// sums over tiles run in another order than the chunked path's (one FMA chain per tile block of
/// the GEMM kernel instead of per chunk, then per worker), so the two agree to rounding
/// (WinogradFewTilesWeightGradientTests: against the chunked path and a Double oracle).
///
/// `DRO_WINOGRAD_SMALL_DW`: `auto` (default) runs this path where `prefers` holds, `on` for
/// every layer, `off` never (the chunked path, as before).
public enum WinogradFewTilesWeightGradient {
    enum Mode: String, CaseIterable, Sendable { case auto, on, off }

    /// Environment variable that sets `mode`.
    static let variable = "DRO_WINOGRAD_SMALL_DW"

    /// Read once from the environment; settable for tests and same-process measurements.
    nonisolated(unsafe) static var mode: Mode =
        getenv(variable).flatMap { Mode(rawValue: String(cString: $0)) } ?? .auto

    /// Floats of one block's dU (all components): 96 Ki = 384 KiB, within one core's 1 MiB L2
    /// next to the block's operand rows. `DRO_WINOGRAD_SMALL_DW_BLOCK=n` sets it (measurements).
    static let blockFloats: Int =
        getenv("DRO_WINOGRAD_SMALL_DW_BLOCK").flatMap { Int(String(cString: $0)) }.map { max(1, $0) } ?? 96 * 1024

    /// Input channels per block: 16, one vector of the AVX-512 weight kernel, whose register
    /// blocks then take up to 24 output rows per transposed D panel (the panel is transposed per
    /// component and block, so short blocks of 64 columns × 6 rows spent as much on it as on
    /// the FMAs). Fetal 12³ F(4,3) and 6³ layers, 2 threads, few-tiles / chunked time: 64 columns
    /// 0.75–1.14, 32: 0.65–0.82, 16: 0.62–0.72 (docs/performance.md, "Winograd weight gradient
    /// for few tiles"). `DRO_WINOGRAD_SMALL_DW_COLUMNS=n` sets it (measurements).
    static let blockColumns: Int =
        getenv("DRO_WINOGRAD_SMALL_DW_COLUMNS").flatMap { Int(String(cString: $0)) }.map { max(1, $0) } ?? 16

    /// The automatic rule: this path where the chunked path's accumulators (`workers` of
    /// Cin·Cout per component) are at least as large as the transformed data of all tiles
    /// ((Cin + Cout)·tiles per component). Fetal 96³, batch 2, 2 threads: enc4.1 (6³, F(2,3),
    /// 54 tiles, 320 → 320) and the 12³ layers on F(4,3) (54 tiles) qualify, the 12³ layers on
    /// F(2,3) (432 tiles) do not.
    public static func prefers(tiles: Int, cin: Int, cout: Int, workers: Int) -> Bool {
        max(1, workers) * cin * cout >= tiles * (cin + cout)
    }

    /// Whether a layer runs this path in this process (`mode`, else `prefers`).
    static func applies(tiles: Int, cin: Int, cout: Int, workers: Int) -> Bool {
        switch mode {
        case .on: return true
        case .off: return false
        case .auto: return prefers(tiles: tiles, cin: cin, cout: cout, workers: workers)
        }
    }

    /// Block of (output rows, input columns) whose dU over `components` fits `floats`: columns
    /// up to `blockColumns`, rows filling the rest in multiples of 6 (F(4,3): 24 rows, F(2,3): 96
    /// at 16 columns), at least one.
    static func block(components: Int, cout: Int, cin: Int, floats: Int) -> (rows: Int, columns: Int) {
        let columns = min(cin, blockColumns)
        var rows = max(1, floats / (components * columns))
        if rows > 6 { rows = rows / 6 * 6 }
        return (min(cout, rows), columns)
    }

    /// Floats of one dU block (`block`; at least one row, even above `floats`).
    static func blockSize(components: Int, cout: Int, cin: Int, floats: Int) -> Int {
        let (rows, columns) = block(components: components, cout: cout, cin: cin, floats: floats)
        return components * rows * columns
    }

    /// Shared buffers of one call: the transformed input and output gradient of all tiles
    /// (`dataFloats`, `productFloats`), and per worker `linesFloats` of transform scratch and a
    /// dU block of `blockFloats`, all 64-byte aligned, from `workspace` slot `slot`.
    struct Buffers {
        let data: UnsafeMutablePointer<Float>
        let products: UnsafeMutablePointer<Float>
        let lines: [UnsafeMutablePointer<Float>]
        let blocks: [UnsafeMutablePointer<Float>]

        init(dataFloats: Int, productFloats: Int, linesFloats: Int, blockFloats: Int, workers: Int,
             workspace: Workspace, slot: Int) {
            @inline(__always) func round(_ x: Int) -> Int { (x + 15) / 16 * 16 }
            let perWorker = round(linesFloats) + round(blockFloats)
            let total = round(dataFloats) + round(productFloats) + perWorker * workers
            let base = workspace.buffer(slot, count: total + 16)
            let misalignment = Int(bitPattern: UnsafeRawPointer(base)) & 63
            var p = base + (misalignment == 0 ? 0 : (64 - misalignment) / MemoryLayout<Float>.size)
            data = p; p += round(dataFloats)
            products = p; p += round(productFloats)
            var lines: [UnsafeMutablePointer<Float>] = [], blocks: [UnsafeMutablePointer<Float>] = []
            for _ in 0..<workers {
                lines.append(p); p += round(linesFloats)
                blocks.append(p); p += round(blockFloats)
            }
            self.lines = lines; self.blocks = blocks
        }

        /// Chunk buffers of `chunkFloats(cin)` and `chunkFloats(cout)` Floats, per worker `linesFloats`
        /// and one dU block (`blockSize` for `components` at `blockFloats`), in workspace slot 1.
        init(cin: Int, cout: Int, components: Int, chunkFloats: (Int) -> Int, linesFloats: Int, blockFloats: Int,
             workers: Int, workspace: Workspace) {
            self.init(dataFloats: chunkFloats(cin), productFloats: chunkFloats(cout), linesFloats: linesFloats,
                      blockFloats: WinogradFewTilesWeightGradient.blockSize(components: components, cout: cout,
                                                                            cin: cin, floats: blockFloats),
                      workers: workers, workspace: workspace, slot: 1)
        }
    }

    /// The two phases over `workers` (OpenBLAS held at one thread):
    /// 1. `transform(channel, lines)` for every channel 0..<cin + cout (input channels, then
    ///    output-gradient channels cin…), channels claimed in runs of `transformRun`;
    /// 2. per block of pairs: dU_ξ[rows × columns] = P_ξ · D_ξᵀ over all `tiles` (P rows from
    ///    products + co0·ld, D rows from data + ci0·ld, components at xiStride), then
    ///    `inverse(du, co0, rows, ci0, columns)` (du [components][rows][columns]).
    static func run(cin: Int, cout: Int, components: Int, tiles: Int, ld: Int, xiStride: Int,
                    kernel: WinogradGEMM.Kernel, buffers: Buffers, workers: Int, blockFloats: Int,
                    transform: (_ channel: Int, _ lines: UnsafeMutablePointer<Float>) -> Void,
                    inverse: (_ du: UnsafePointer<Float>, _ co0: Int, _ rows: Int, _ ci0: Int, _ columns: Int) -> Void) {
        let channels = cin + cout, run = 4
        let runs = (channels + run - 1) / run
        let nextRun = Atomic<Int>(0)
        Parallel.workersWithSerialBLAS(workers) { k in
            while true {
                let r = nextRun.wrappingAdd(1, ordering: .relaxed).oldValue
                if r >= runs { break }
                for c in r * run ..< min(channels, (r + 1) * run) { transform(c, buffers.lines[k]) }
            }
        }
        let (rows, columns) = block(components: components, cout: cout, cin: cin, floats: blockFloats)
        let rowBlocks = (cout + rows - 1) / rows, columnBlocks = (cin + columns - 1) / columns
        let nextBlock = Atomic<Int>(0)
        Parallel.workersWithSerialBLAS(workers) { k in
            let du = buffers.blocks[k]
            while true {
                let b = nextBlock.wrappingAdd(1, ordering: .relaxed).oldValue
                if b >= rowBlocks * columnBlocks { break }
                // Input-channel blocks inner: consecutive blocks of a worker share its P rows.
                let co0 = b / columnBlocks * rows, ci0 = b % columnBlocks * columns
                let m = min(rows, cout - co0), n = min(columns, cin - ci0)
                du.update(repeating: 0, count: components * m * n)
                WinogradGEMM.weight(kernel, products: buffers.products + co0 * ld, data: buffers.data + ci0 * ld,
                                    du: du, cout: m, cin: n, tiles: tiles, ld: ld, xiStride: xiStride,
                                    components: components)
                inverse(du, co0, m, ci0, n)
            }
        }
    }
}

extension WinogradConv3d {
    /// The F(2,3) weight gradient on `WinogradFewTilesWeightGradient` (same contract as
    /// `backwardWeight`: accumulates into dweight and dbias).
    static func backwardWeightFewTiles(x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                       dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                       n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                                       workspace: Workspace, threads: Int = Parallel.defaultThreads,
                                       gemm: WinogradGEMM.Kernel? = nil,
                                       blockFloats: Int = WinogradFewTilesWeightGradient.blockFloats) {
        precondition(n >= 0 && cin > 0 && cout > 0 && d >= 0 && h >= 0 && width >= 0,
                     "WinogradConv3d.backwardWeightFewTiles: invalid shape n \(n) cin \(cin) cout \(cout) \(d)×\(h)×\(width)")
        guard n * d * h * width > 0 else { return }
        let plan = fewTilesPlan(n: n, cin: cin, cout: cout, d: d, h: h, width: width)
        let xiStride = plan.componentStride, ld = plan.channelStride
        let components = WinogradWeightTransforms.components
        let workers = max(1, threads)
        let lineFloats = max(WinogradInputTransform.scratchFloats(tilesW: plan.tilesW),
                             8 * winogradLineLength(tilesW: plan.tilesW), 4 * WinogradLanes.scalarCount)
        let buffers = WinogradFewTilesWeightGradient.Buffers(
            cin: cin, cout: cout, components: components, chunkFloats: { plan.chunkFloats(channels: $0) },
            linesFloats: lineFloats, blockFloats: blockFloats, workers: workers, workspace: workspace)
        let allRows = 0..<plan.rows
        WinogradFewTilesWeightGradient.run(
            cin: cin, cout: cout, components: components, tiles: plan.columns(rows: plan.rows), ld: ld,
            xiStride: xiStride, kernel: gemm ?? WinogradGEMM.automaticWeight, buffers: buffers, workers: workers,
            blockFloats: blockFloats,
            transform: { item, lines in
                if item < cin {
                    WinogradInputTransform.rows(allRows, input: x, channel: item, channels: cin, plan: plan,
                                                out: buffers.data + item * ld, xiStride: xiStride, lines: lines)
                    return
                }
                let co = item - cin
                for row in allRows {
                    let (s, td, th) = plan.decode(row: row)
                    WinogradTileTransforms.gradientRow(
                        plane: dy + (s * cout + co) * plan.planeSize, d: d, h: h, w: width, td: td, th: th,
                        tilesW: plan.tilesW, out: buffers.products + co * ld + row * plan.rowStride,
                        xiStride: xiStride, lines: lines, rowStride: plan.rowStride)
                }
            },
            inverse: { du, co0, rows, ci0, columns in
                WinogradWeightTransforms.accumulateGradient(du: du, cout: rows, cin: columns,
                                                            dw: dweight + (co0 * cin + ci0) * 27, dwRowStride: cin,
                                                            threads: 1)
            })
        if let dbias {
            accumulateBiasGradient(dy: dy, dbias: dbias, n: n, cout: cout, planeSize: plan.planeSize, threads: workers)
        }
    }

    /// One chunk holding every tile row of the batch (unpadded rows where the standard tuning
    /// has them).
    static func fewTilesPlan(n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int) -> WinogradPlan {
        var tuning = WinogradTuning.standard
        tuning.threads = 1
        tuning.minimumChunkTiles = n * ((d + 1) / 2) * ((h + 1) / 2) * ((width + 1) / 2 + WinogradLanes.scalarCount)
        return WinogradPlan(batch: n, d: d, h: h, w: width, channels: cin + cout, tuning: tuning)
    }
}

extension WinogradF43 {
    /// The F(4,3) weight gradient on `WinogradFewTilesWeightGradient` (same contract as
    /// `backwardWeight`, `activation` included).
    static func backwardWeightFewTiles(x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                       dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                       n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                                       workspace: Workspace, activation: WinogradInputActivation? = nil,
                                       threads: Int = Parallel.defaultThreads, gemm: WinogradGEMM.Kernel? = nil,
                                       blockFloats: Int = WinogradFewTilesWeightGradient.blockFloats) {
        precondition(n >= 0 && cin > 0 && cout > 0 && d >= 0 && h >= 0 && width >= 0,
                     "WinogradF43.backwardWeightFewTiles: invalid shape n \(n) cin \(cin) cout \(cout) \(d)×\(h)×\(width)")
        guard n * d * h * width > 0 else { return }
        let plan = fewTilesPlan(n: n, cin: cin, cout: cout, d: d, h: h, width: width)
        precondition(activation == nil || (plan.groupRows == 1 && WinogradF43Transforms.kernel == .avx512),
                     "WinogradF43.backwardWeightFewTiles: activation needs the AVX-512 one-row input transform (width \(width))")
        let xiStride = plan.componentStride, ld = plan.channelStride
        let workers = max(1, threads)
        let buffers = WinogradFewTilesWeightGradient.Buffers(
            cin: cin, cout: cout, components: components, chunkFloats: { plan.chunkFloats(channels: $0) },
            linesFloats: plan.scratchFloats, blockFloats: blockFloats, workers: workers, workspace: workspace)
        let allRows = 0..<plan.rows
        WinogradFewTilesWeightGradient.run(
            cin: cin, cout: cout, components: components, tiles: plan.columns(rows: plan.rows), ld: ld,
            xiStride: xiStride, kernel: gemm ?? WinogradGEMM.automaticWeight, buffers: buffers, workers: workers,
            blockFloats: blockFloats,
            transform: { item, lines in
                if item < cin {
                    let channel = item..<item + 1
                    if let activation {
                        transformActivatedInput(x, activation: activation, channels: cin, channelRange: channel,
                                                rows: allRows, plan: plan, out: buffers.data, ld: ld,
                                                xiStride: xiStride, scratch: lines)
                    } else {
                        transformInput(x, channels: cin, channelRange: channel, rows: allRows, plan: plan,
                                       out: buffers.data, ld: ld, xiStride: xiStride, scratch: lines)
                    }
                    return
                }
                let co = item - cin
                if plan.groupRows > 1 {
                    forEachGroup(rows: allRows, channels: cout, channelRange: co..<co + 1, plan: plan) {
                        c, first, count, next in
                        WinogradF43Transforms.gradientRows(
                            volume: dy, channels: cout, channel: c, plan: plan, first: first, count: count,
                            out: buffers.products + c * ld + first * plan.rowStride, xiStride: xiStride,
                            scratch: lines, next: next)
                    }
                } else {
                    for row in allRows {
                        let (sample, td, th) = plan.decode(row: row)
                        WinogradF43Transforms.gradientRow(
                            plane: dy + (sample * cout + co) * plan.planeSize, plan: plan, td: td, th: th,
                            out: buffers.products + co * ld + row * plan.rowStride, xiStride: xiStride,
                            scratch: lines,
                            next: nextRow(dy, channels: cout, channel: co, row: row, rows: allRows, plan: plan))
                    }
                }
            },
            inverse: { du, co0, rows, ci0, columns in
                accumulateWeightGradient(du: du, cout: rows, cin: columns, dw: dweight + (co0 * cin + ci0) * 27,
                                         dwRowStride: cin, threads: 1)
            })
        if let dbias {
            WinogradConv3d.accumulateBiasGradient(dy: dy, dbias: dbias, n: n, cout: cout, planeSize: plan.planeSize,
                                                  threads: workers)
        }
    }

    /// One chunk holding every tile row of the batch.
    static func fewTilesPlan(n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int) -> WinogradF43Plan {
        var tuning = standardTuning
        tuning.threads = 1
        tuning.minimumChunkTiles = n * ((d + 3) / 4) * ((h + 3) / 4) * ((width + 3) / 4 + lanes)
        return WinogradF43Plan(batch: n, d: d, h: h, w: width, channels: cin + cout, tuning: tuning)
    }
}

extension WinogradPhaseClock {
    /// Sets `DRO_WINOGRAD_SMALL_DW`'s choice (auto, on, off) for the calls that follow, for
    /// alternating measurements in one process; false for an unknown name.
    @discardableResult
    public static func setSmallWeightGradient(_ name: String) -> Bool {
        guard let mode = WinogradFewTilesWeightGradient.Mode(rawValue: name) else { return false }
        WinogradFewTilesWeightGradient.mode = mode
        return true
    }
}
