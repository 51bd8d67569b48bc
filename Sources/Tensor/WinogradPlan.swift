import CBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a Winograd convolution spreads over cores. `.workersOwnChunks` is the default: on one
/// thread both are the same code; on two threads the per-chunk GEMMs (e.g. M = K = 16, N = 128)
/// are too small for OpenBLAS to split usefully, so `.blasThreads` left a core idle during them
/// (it now splits the 64 GEMMs by component over our workers) and pays a fork/join per chunk
/// phase. The two-thread comparison on the shared machine was inconclusive (docs/performance.md,
/// "Measurements behind constants in the code");
/// `.blasThreads` is kept for re-measuring on a quiet machine (WinogradBenchmarkTests prints both).
enum WinogradThreading {
    /// Each worker owns whole chunks (transform → 64 single-threaded GEMMs → transform) and
    /// OpenBLAS is held at one thread meanwhile: no fork/join per GEMM, and each worker's chunk
    /// stays in its own core's L2.
    case workersOwnChunks
    /// Chunks run one after another; transforms split over `Parallel.forEach`, then the chunk's
    /// 64 GEMMs split by component over the same workers (never both at once). With
    /// `DRO_BLAS_THREADS=openblas` the GEMMs run in order on OpenBLAS's threads instead.
    case blasThreads
}

/// Tuning knobs (internal: the benchmark test sweeps them; callers use the defaults).
struct WinogradTuning {
    /// Target bytes of one chunk's transformed input plus GEMM output: half the L2 of one core
    /// (2 MiB per core here; lscpu: "L2 cache: 4 MiB (2 instances)"), leaving room for OpenBLAS's
    /// packed panels; larger chunks fall out of L2 (sweep WinogradBenchmarkTests.testChunkSizeSweep:
    /// docs/performance.md, "Measurements behind constants in the code").
    var chunkBytes = 1 << 20
    /// Fewest tiles per chunk, so GEMMs keep a useful N even for wide layers; 128 beat 32 and 512
    /// in the same sweep (it governs most bench layers at 1 MiB).
    var minimumChunkTiles = 128
    var threading = WinogradThreading.workersOwnChunks
    var threads = Parallel.defaultThreads
    /// GEMM kernel of the chunks (all directions); nil = `WinogradGEMM.automatic` (forward, input
    /// gradient) / `.automaticWeight` (weight gradient) with `.workersOwnChunks`, OpenBLAS
    /// with `.blasThreads` (whose 64 GEMMs per chunk are split by component over the workers).
    var gemm: WinogradGEMM.Kernel? = nil
    /// Rows of the chunk buffers `tilesW` columns wide instead of whole 4-lane vectors
    /// (`WinogradPlan.rowStride`), where the plan allows it. Off here (tests of the padded layout
    /// construct tunings directly); `standard` turns it on (`WinogradPlan.unpaddedRowsByDefault`).
    var unpaddedRows = false

    /// The forward / input-gradient GEMM kernel these settings run (for most shapes).
    var gemmKernel: WinogradGEMM.Kernel {
        gemm ?? (threading == .workersOwnChunks ? WinogradGEMM.automatic : .blas)
    }

    /// The forward / input-gradient GEMM kernel of a pass with M = `rows` (output channels of the
    /// pass: Cout forward, Cin for the input gradient): `gemmKernel`, with the automatic choice
    /// refined per shape (`WinogradGEMM.automatic(rows:)`).
    func gemmKernel(rows: Int) -> WinogradGEMM.Kernel {
        gemm == nil && threading == .workersOwnChunks ? WinogradGEMM.automatic(rows: rows) : gemmKernel
    }

    /// The weight-gradient GEMM kernel these settings run (`gemm` sets all directions).
    var weightGemmKernel: WinogradGEMM.Kernel {
        gemm ?? (threading == .workersOwnChunks ? WinogradGEMM.automaticWeight : .blas)
    }

    /// Defaults, with the thread count read from `Parallel` at each call (it may be reconfigured).
    static var standard: WinogradTuning {
        var tuning = WinogradTuning()
        tuning.unpaddedRows = WinogradPlan.unpaddedRowsByDefault
        return tuning
    }
}

/// Tiling of an [n, c, d, h, w] volume into 2×2×2 output tiles and of the tiles into chunks.
/// A row = the tilesW tiles of one (sample, tile depth, tile height); a chunk = whole rows.
struct WinogradPlan: WinogradRowTiling {
    let batch, d, h, w: Int
    let tilesD, tilesH, tilesW: Int
    /// Columns one row occupies in a chunk buffer: tilesW rounded up to whole lane vectors, so
    /// every row starts on a 16-byte boundary and the transforms store whole vectors (the extra
    /// columns hold the transform of the zero padding; the output transform skips them).
    /// Or tilesW itself (`unpadded`), where `tuning.unpaddedRows` asks for it, the transforms are
    /// the AVX-512 ones (their stores and loads are masked to the row's `rowStride` columns, so
    /// nothing spills into the next row) and each worker owns whole chunks: at 12³ (6 tiles per
    /// row) a quarter of the GEMM columns, at 6³ (3 tiles) a quarter, were padding.
    let rowStride: Int
    /// Whether rowStride = tilesW (see `rowStride`).
    let unpadded: Bool
    let rowsPerChunk: Int
    /// Stride between the 64 component rows of one channel in a chunk buffer laid out
    /// [channel][ξ][tile]: ≥ tiles per chunk, rounded to an odd number of 64-byte lines so the
    /// 64 streams a tile transform touches fall in distinct cache sets (and span few pages).
    let componentStride: Int
    let threads: Int

    init(batch: Int, d: Int, h: Int, w: Int, channels: Int, tuning: WinogradTuning) {
        self.batch = batch; self.d = d; self.h = h; self.w = w
        tilesD = (d + 1) / 2; tilesH = (h + 1) / 2; tilesW = (w + 1) / 2
        let lanes = WinogradLanes.scalarCount
        unpadded = tuning.unpaddedRows && tuning.threading == .workersOwnChunks
            && WinogradTransformsC.preferred == .avx512
        rowStride = unpadded ? tilesW : (tilesW + lanes - 1) / lanes * lanes
        let bytesPerTile = WinogradWeightTransforms.components * channels * MemoryLayout<Float>.size
        let target = max(tuning.minimumChunkTiles, tuning.chunkBytes / max(1, bytesPerTile))
        let rows = batch * tilesD * tilesH
        var perChunk = max(1, min(rows, target / max(1, rowStride)))
        if tuning.threading == .workersOwnChunks {
            // At least one chunk per worker (small volumes, e.g. 8³, would otherwise be one chunk).
            perChunk = min(perChunk, (rows + tuning.threads - 1) / max(1, tuning.threads))
        }
        rowsPerChunk = max(1, perChunk)
        componentStride = (rowsPerChunk * rowStride + 31) / 32 * 32 + 16
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        switch tuning.threading {
        case .workersOwnChunks: threads = max(1, min(tuning.threads, chunks))
        case .blasThreads: threads = max(1, tuning.threads)
        }
    }

    /// Whether `WinogradTuning.standard` asks for unpadded rows: yes, unless
    /// DRO_WINOGRAD_ROWS=padded (same-binary measurements; read once).
    static let unpaddedRowsByDefault: Bool =
        getenv("DRO_WINOGRAD_ROWS").map { String(cString: $0) } != "padded"


    /// Stride between channels in a chunk buffer: the row stride (ld) of every GEMM operand.
    /// 64 component strides alone are a multiple of 4 KiB (64 × an odd number of cache lines), so
    /// every channel row of a component would map to the same L1 set and the C kernels' K × 16
    /// panels of B (K up to 128 lines) would evict each other; one extra cache line per channel
    /// spreads them over the sets, which speeds up the AVX2 forward kernel (docs/performance.md,
    /// "Winograd GEMM kernels").
    var channelStride: Int { WinogradWeightTransforms.components * componentStride + Self.channelPadding }

    /// Floats added to each channel's stride: one 64-byte cache line (see `channelStride`).
    static let channelPadding = 16

    /// Floats of one chunk buffer for `channels` (plus a vector of overrun).
    func chunkFloats(channels: Int) -> Int { channels * channelStride + 16 }
}

/// One worker's slice of scratch memory, carved from a single workspace slot.
struct WinogradWorkerScratch {
    let data: UnsafeMutablePointer<Float>      // transformed input / output-gradient (component-major)
    let products: UnsafeMutablePointer<Float>  // GEMM output or second operand
    let lines: UnsafeMutablePointer<Float>     // W-line blocks / padded voxel lines
    let edge: UnsafeMutablePointer<Float>      // the last, partial output vector of a line
    let accumulator: UnsafeMutablePointer<Float> // weight-gradient partial dU, 64·cout·cin

    /// Carves `count` workers' scratch from `workspace` slot `slot`.
    static func carve(plan: WinogradPlan, dataChannels: Int, productChannels: Int, accumulatorFloats: Int,
                      count: Int, workspace: Workspace, slot: Int) -> [WinogradWorkerScratch] {
        let lineLength = winogradLineLength(tilesW: plan.tilesW)
        return winogradCarveScratch(data: plan.chunkFloats(channels: dataChannels),
                                    products: plan.chunkFloats(channels: productChannels),
                                    lines: max(WinogradInputTransform.scratchFloats(tilesW: plan.tilesW), 8 * lineLength),
                                    accumulator: accumulatorFloats, threads: count, workspace: workspace, slot: slot,
                                    edge: 4 * WinogradLanes.scalarCount)
    }
}

/// Runs `body(worker)` for worker = 0..<workers under the chosen threading: with
/// `.workersOwnChunks` OpenBLAS is held at one thread for the duration (restored after).
func winogradRunWorkers(_ workers: Int, threading: WinogradThreading, _ body: (Int) -> Void) {
    switch threading {
    case .workersOwnChunks where workers > 1:
        Parallel.workersWithSerialBLAS(workers, body)
    default:
        for k in 0..<workers { body(k) }
    }
}

/// Zeroes every worker's weight-gradient accumulator (`count` floats), one worker per thread.
func winogradZeroAccumulators(_ scratch: [WinogradWorkerScratch], count: Int) {
    Parallel.forEach(count: scratch.count, threads: scratch.count) { k in
        scratch[k].accumulator.update(repeating: 0, count: count)
    }
}

/// Adds the workers' partial accumulators (`count` floats each) into the first. Every element
/// is summed in worker order, as a serial loop over the workers would (bit-identical for any
/// `threads`); the elements are split over `threads` (at 8³ × 128 → 128 channels the
/// accumulators are 4 MiB each, which one thread took ~1 ms to add).
func winogradSumAccumulators(_ scratch: [WinogradWorkerScratch], count: Int, threads: Int) {
    guard scratch.count > 1 else { return }
    let total = scratch[0].accumulator
    Parallel.forEach(0..<count, threads: count >= 1 << 16 ? threads : 1) { range in
        for s in scratch.dropFirst() {
            let part = s.accumulator
            for i in range { total[i] += part[i] }
        }
    }
}

/// Tile rows and chunks of rows, shared by the F(2,3) and F(4,3) plans: a row is the tilesW tiles
/// of one (sample, tile depth, tile height), a chunk `rowsPerChunk` consecutive rows.
protocol WinogradRowTiling {
    var batch: Int { get }
    var d: Int { get }
    var h: Int { get }
    var w: Int { get }
    var tilesD: Int { get }
    var tilesH: Int { get }
    var rowStride: Int { get }
    var rowsPerChunk: Int { get }
}

extension WinogradRowTiling {
    var rows: Int { batch * tilesD * tilesH }
    var chunkCount: Int { (rows + rowsPerChunk - 1) / rowsPerChunk }
    var planeSize: Int { d * h * w }

    func rowRange(chunk: Int) -> Range<Int> {
        chunk * rowsPerChunk ..< min(rows, (chunk + 1) * rowsPerChunk)
    }

    /// (sample, tile depth, tile height) of a row.
    func decode(row: Int) -> (n: Int, td: Int, th: Int) {
        let perSample = tilesD * tilesH
        let rem = row % perSample
        return (row / perSample, rem / tilesH, rem % tilesH)
    }

    /// GEMM columns of a chunk of `rows` rows (padding columns included, where the plan has them).
    func columns(rows: Int) -> Int { rows * rowStride }
}
