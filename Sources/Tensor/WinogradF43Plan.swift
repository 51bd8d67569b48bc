import Synchronization

/// Tiling of an [n, c, d, h, w] volume into 4×4×4 output tiles and of the tile rows into chunks
/// (a row = the tilesW tiles of one (sample, tile depth, tile height)); chunk buffers laid out
/// [channel][ξ][tile] like F(2,3)'s `WinogradPlan`.
struct WinogradF43Plan: WinogradRowTiling {
    let batch, d, h, w: Int
    let tilesD, tilesH, tilesW: Int
    /// Columns of one row in a chunk buffer: tilesW (no padding columns: a 16³ layer has 4 tiles
    /// per row, which whole vectors would double). The transforms store whole vectors, so a row's
    /// last vector spills into the next row's columns (written after it: rows go in increasing
    /// order) or into the slack after the chunk's last row (`componentStride` ≥ columns + 16; a
    /// row group's 16 columns end at most 12 past its last row's).
    let rowStride: Int
    /// tilesW rounded up to whole SIMD8 vectors: the transforms' scratch row width.
    let vectorTiles: Int
    /// Tile rows the AVX-512 row-group transforms take together (`WinogradF43Transforms.rowGroup`),
    /// 1 where rows go one at a time; their vectors' lanes (0 then).
    let groupRows: Int, groupLanes: Int
    let rowsPerChunk: Int
    /// Stride between the 216 component rows of one channel: ≥ tiles per chunk, rounded to an
    /// odd number of 64-byte lines (as in `WinogradPlan`).
    let componentStride: Int
    let threads: Int

    init(batch: Int, d: Int, h: Int, w: Int, channels: Int, tuning: WinogradTuning) {
        self.batch = batch; self.d = d; self.h = h; self.w = w
        tilesD = (d + 3) / 4; tilesH = (h + 3) / 4; tilesW = (w + 3) / 4
        let lanes = WinogradF43.lanes
        rowStride = tilesW
        vectorTiles = (tilesW + lanes - 1) / lanes * lanes
        let group = WinogradF43Transforms.rowGroup(tilesW: tilesW)
        groupRows = group?.rows ?? 1; groupLanes = group?.lanes ?? 0
        let bytesPerTile = WinogradF43.components * channels * MemoryLayout<Float>.size
        let target = max(tuning.minimumChunkTiles, tuning.chunkBytes / max(1, bytesPerTile))
        let rows = batch * tilesD * tilesH
        var perChunk = max(1, min(rows, target / max(1, rowStride)))
        perChunk = min(perChunk, (rows + tuning.threads - 1) / max(1, tuning.threads))
        rowsPerChunk = max(1, perChunk)
        componentStride = (rowsPerChunk * rowStride + 31) / 32 * 32 + 16
        threads = max(1, min(tuning.threads, (rows + rowsPerChunk - 1) / rowsPerChunk))
    }


    /// Columns the transforms of `rows` rows load and store (whole vectors): vectorTiles per row,
    /// or groupLanes per group of groupRows rows.
    func touchedColumns(rows: Int) -> Int {
        groupRows > 1 ? (rows + groupRows - 1) / groupRows * groupLanes : rows * vectorTiles
    }

    /// Stride between channels (ld of every GEMM operand), one cache line more than the
    /// components (see `WinogradPlan.channelStride`).
    var channelStride: Int { WinogradF43.components * componentStride + WinogradPlan.channelPadding }

    func chunkFloats(channels: Int) -> Int { channels * channelStride + 16 }

    /// Floats of one worker's transform scratch (`WinogradF43Transforms`).
    var scratchFloats: Int { WinogradF43Transforms.scratchFloats(rowStride: max(vectorTiles, groupLanes)) }

    /// Per-worker chunk buffers from `workspace` slot `slot` (64-byte aligned).
    func carve(dataChannels: Int, productChannels: Int, accumulatorFloats: Int, workspace: Workspace,
               slot: Int) -> [WinogradWorkerScratch] {
        winogradCarveScratch(data: chunkFloats(channels: dataChannels), products: chunkFloats(channels: productChannels),
                             lines: scratchFloats, accumulator: accumulatorFloats, threads: threads,
                             workspace: workspace, slot: slot)
    }
}

extension WinogradRowTiling {
    /// Runs `chunk(rows, scratch)` for every chunk, each worker owning whole chunks with OpenBLAS
    /// held at one thread. `fixedAssignment`: worker k takes chunks k, k + workers, … (per-worker
    /// sums independent of timing); otherwise the next unclaimed chunk.
    func run(scratch: [WinogradWorkerScratch], fixedAssignment: Bool,
             _ chunk: (Range<Int>, WinogradWorkerScratch) -> Void) {
        let workers = scratch.count
        let next = Atomic<Int>(0)
        winogradRunWorkers(workers, threading: .workersOwnChunks) { k in
            var claimed = 0
            while true {
                let index = fixedAssignment ? k + claimed * workers : next.wrappingAdd(1, ordering: .relaxed).oldValue
                claimed += 1
                if index >= chunkCount { break }
                chunk(rowRange(chunk: index), scratch[k])
            }
        }
    }
}

/// `threads` sets of per-worker buffers (data, products, transform lines, edge, accumulator;
/// Floats each, rounded up to 64-byte multiples) from `workspace` slot `slot`, aligned to 64 bytes
/// so the GEMM operands and every row of a chunk start on cache lines.
func winogradCarveScratch(data: Int, products: Int, lines: Int, accumulator: Int, threads: Int,
                          workspace: Workspace, slot: Int, edge: Int = 16) -> [WinogradWorkerScratch] {
    @inline(__always) func round(_ x: Int) -> Int { (x + 15) / 16 * 16 }
    let sizes = [data, products, lines, edge, accumulator].map(round)
    let perWorker = sizes.reduce(0, +)
    let base = workspace.buffer(slot, count: perWorker * threads + 16)
    let misalignment = Int(bitPattern: UnsafeRawPointer(base)) & 63
    let aligned = base + (misalignment == 0 ? 0 : (64 - misalignment) / MemoryLayout<Float>.size)
    return (0..<threads).map { k in
        var p = aligned + k * perWorker
        func take(_ i: Int) -> UnsafeMutablePointer<Float> { defer { p += sizes[i] }; return p }
        let data = take(0), products = take(1), lines = take(2), edge = take(3)
        return WinogradWorkerScratch(data: data, products: products, lines: lines, edge: edge, accumulator: take(4))
    }
}

/// The input of a layer as LeakyReLU(z·scale + shift), per (sample, channel) row r = n·C + c:
/// scale_r = γ_c·rstd_r, shift_r = β_c − mean_r·scale_r (`InstanceNormLeakyReLU.apply`'s
/// per-row constants), for kernels that compute the activation from z where they read it.
public struct WinogradInputActivation {
    public let scale: UnsafePointer<Float>
    public let shift: UnsafePointer<Float>
    public let slope: Float

    public init(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, slope: Float) {
        self.scale = scale; self.shift = shift; self.slope = slope
    }
}
