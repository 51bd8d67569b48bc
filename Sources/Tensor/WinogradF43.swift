import Synchronization

/// Winograd F(4×4×4, 3×3×3) convolution for stride-1, padding-1, 3×3×3 layers, NCDHW Float32.
///
/// Each 4×4×4 block of outputs ("tile") comes from a 6×6×6 input tile with the Lavin–Gray
/// matrices (interpolation points 0, ±1, ±2): y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A per axis, 216
/// transformed components. Summed over input channels the ⊙ becomes 216 GEMMs per chunk
/// (M = Cout, K = Cin, N = tiles; `WinogradGEMM` with `components: 216`): 216 / 64 = 3.4
/// multiplies per output and channel pair instead of F(2,3)'s 8, and 3.4 transformed values per
/// output instead of 8. The price is accuracy: the transforms have entries up to 8 (Aᵀ) and 5
/// (Bᵀ), so Float rounding is ~30× F(2,3)'s (docs/performance.md, "Winograd F(4,3)");
/// `WinogradTile` decides per layer where it is used.
///
/// Same conventions as `WinogradConv3d` (which it mirrors): tiles in chunks of whole tile rows,
/// each worker owning whole chunks (transform → GEMMs → transform) with OpenBLAS held at one
/// thread; the batch folded into the tile dimension; odd extents zero-padded on input and cropped
/// on output; weight gradient with a fixed chunk → worker assignment (bit-reproducible).
/// Scratch: `workspace` slots 0 (transformed weights / dU) and 1 (per-worker chunk buffers).
///
/// The transforms are `WinogradF43Transforms` (AVX-512, AVX2 or portable Swift, bit-identical).
public enum WinogradF43 {
    /// Transformed components per tile (6³).
    public static let components = 216
    /// Tiles per row are padded to a multiple of this (one SIMD8 vector).
    static let lanes = 8

    /// x: [N, Cin, D, H, W], weight: [Cout, Cin, 3, 3, 3], bias: [Cout] → y. Overwrites y.
    public static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int,
                               d: Int, h: Int, width: Int, workspace: Workspace) {
        forward(x: x, weight: weight, bias: bias, y: y, n: n, cin: cin, cout: cout, d: d, h: h, width: width,
                workspace: workspace, tuning: standardTuning)
    }

    /// dy: [N, Cout, D, H, W] → dx: [N, Cin, D, H, W]. Overwrites dx.
    public static func backwardInput(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     dx: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int,
                                     d: Int, h: Int, width: Int, workspace: Workspace) {
        backwardInput(dy: dy, weight: weight, dx: dx, n: n, cin: cin, cout: cout, d: d, h: h, width: width,
                      workspace: workspace, tuning: standardTuning)
    }

    /// ACCUMULATES dL/dweight into dweight and dL/dbias into dbias (may be nil):
    /// dU_ξ = Σ_tiles (A dy Aᵀ)_ξ (Bᵀ x B)_ξᵀ, then dweight += Gᵀ dU G.
    public static func backwardWeight(x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                      dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                      n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                                      workspace: Workspace) {
        backwardWeight(x: x, dy: dy, dweight: dweight, dbias: dbias, n: n, cin: cin, cout: cout, d: d, h: h,
                       width: width, workspace: workspace, tuning: standardTuning)
    }

    /// Defaults: F(2,3)'s chunk budget; at least 64 tiles per chunk (= 4096 outputs, F(2,3)'s
    /// 128 tiles are 1024) so the GEMMs keep a useful N.
    static var standardTuning: WinogradTuning { WinogradTuning(minimumChunkTiles: 64) }

    // MARK: - Tunable entry points

    static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                        workspace: Workspace, tuning: WinogradTuning) {
        precondition(n >= 0 && cin > 0 && cout > 0 && d >= 0 && h >= 0 && width >= 0,
                     "WinogradF43.forward: invalid shape n \(n) cin \(cin) cout \(cout) \(d)×\(h)×\(width)")
        guard n * d * h * width > 0 else { return }
        let u = workspace.buffer(0, count: components * cout * cin)
        transformWeights(weight, cout: cout, cin: cin, flipTranspose: false, u: u)
        convolve(input: x, u: UnsafePointer(u), bias: bias, output: y, n: n, cin: cin, cout: cout,
                 d: d, h: h, w: width, workspace: workspace, tuning: tuning)
    }

    static func backwardInput(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                              n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                              workspace: Workspace, tuning: WinogradTuning) {
        precondition(n >= 0 && cin > 0 && cout > 0 && d >= 0 && h >= 0 && width >= 0,
                     "WinogradF43.backwardInput: invalid shape n \(n) cin \(cin) cout \(cout) \(d)×\(h)×\(width)")
        guard n * d * h * width > 0 else { return }
        let u = workspace.buffer(0, count: components * cout * cin)
        transformWeights(weight, cout: cout, cin: cin, flipTranspose: true, u: u)
        convolve(input: dy, u: UnsafePointer(u), bias: nil, output: dx, n: n, cin: cout, cout: cin,
                 d: d, h: h, w: width, workspace: workspace, tuning: tuning)
    }

    /// output [n, cout, …] = conv(input [n, cin, …]) with transformed weights u [216][cout][cin].
    private static func convolve(input: UnsafePointer<Float>, u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                 output: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int,
                                 d: Int, h: Int, w: Int, workspace: Workspace, tuning: WinogradTuning) {
        let plan = WinogradF43Plan(batch: n, d: d, h: h, w: w, channels: cin + cout, tuning: tuning)
        let xiStride = plan.componentStride, ld = plan.channelStride
        let kernel = tuning.gemmKernel
        let scratch = plan.carve(dataChannels: cin, productChannels: cout, accumulatorFloats: 0,
                                 workspace: workspace, slot: 1)
        plan.run(scratch: scratch, fixedAssignment: false) { rows, s in
            for c in 0..<cin {
                for row in rows {
                    let (sample, td, th) = plan.decode(row: row)
                    WinogradF43Transforms.inputRow(
                        plane: input + (sample * cin + c) * plan.planeSize, plan: plan, td: td, th: th,
                        out: s.data + c * ld + (row - rows.lowerBound) * plan.rowStride, xiStride: xiStride,
                        scratch: s.lines)
                }
            }
            WinogradGEMM.forward(kernel, u: u, data: s.data, products: s.products, cout: cout, cin: cin,
                                 tiles: plan.columns(rows: rows.count), ld: ld, xiStride: xiStride,
                                 components: components)
            for co in 0..<cout {
                for row in rows {
                    let (sample, td, th) = plan.decode(row: row)
                    WinogradF43Transforms.outputRow(
                        src: s.products + co * ld + (row - rows.lowerBound) * plan.rowStride, xiStride: xiStride,
                        plane: output + (sample * cout + co) * plan.planeSize, plan: plan, td: td, th: th,
                        bias: bias?[co] ?? 0, scratch: s.lines)
                }
            }
        }
    }

    static func backwardWeight(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                               dbias: UnsafeMutablePointer<Float>?, n: Int, cin: Int, cout: Int,
                               d: Int, h: Int, width: Int, workspace: Workspace, tuning: WinogradTuning) {
        precondition(n >= 0 && cin > 0 && cout > 0 && d >= 0 && h >= 0 && width >= 0,
                     "WinogradF43.backwardWeight: invalid shape n \(n) cin \(cin) cout \(cout) \(d)×\(h)×\(width)")
        guard n * d * h * width > 0 else { return }
        let plan = WinogradF43Plan(batch: n, d: d, h: h, w: width, channels: cin + cout, tuning: tuning)
        let xiStride = plan.componentStride, ld = plan.channelStride
        let matrix = cout * cin
        let kernel = tuning.gemmKernel
        let scratch = plan.carve(dataChannels: cin, productChannels: cout, accumulatorFloats: components * matrix,
                                 workspace: workspace, slot: 1)
        for s in scratch { s.accumulator.update(repeating: 0, count: components * matrix) }
        plan.run(scratch: scratch, fixedAssignment: true) { rows, s in
            for row in rows {
                let (sample, td, th) = plan.decode(row: row)
                let local = (row - rows.lowerBound) * plan.rowStride
                for c in 0..<cin {
                    WinogradF43Transforms.inputRow(
                        plane: x + (sample * cin + c) * plan.planeSize, plan: plan, td: td, th: th,
                        out: s.data + c * ld + local, xiStride: xiStride, scratch: s.lines)
                }
                for co in 0..<cout {
                    WinogradF43Transforms.gradientRow(
                        plane: dy + (sample * cout + co) * plan.planeSize, plan: plan, td: td, th: th,
                        out: s.products + co * ld + local, xiStride: xiStride, scratch: s.lines)
                }
            }
            WinogradGEMM.weight(kernel, products: s.products, data: s.data, du: s.accumulator, cout: cout,
                                cin: cin, tiles: plan.columns(rows: rows.count), ld: ld, xiStride: xiStride,
                                components: components)
        }
        let total = scratch[0].accumulator
        for s in scratch.dropFirst() {
            for i in 0..<components * matrix { total[i] += s.accumulator[i] }
        }
        accumulateWeightGradient(du: total, cout: cout, cin: cin, dw: dweight)
        if let dbias {
            WinogradConv3d.accumulateBiasGradient(dy: dy, dbias: dbias, n: n, cout: cout, planeSize: plan.planeSize,
                                                  threads: tuning.threads)
        }
    }

    // MARK: - Weight transforms (in Double, rounded once)

    /// G (6×3) applied to (g0, g1, g2): Lavin & Gray F(4,3).
    @inline(__always)
    static func gApply(_ g0: Double, _ g1: Double, _ g2: Double) -> (Double, Double, Double, Double, Double, Double) {
        let a = g0 + g2
        return (g0 / 4, -(a + g1) / 6, -(a - g1) / 6, g0 / 24 + g1 / 12 + g2 / 6, g0 / 24 - g1 / 12 + g2 / 6, g2)
    }

    /// Gᵀ (3×6) applied to m.
    @inline(__always)
    static func gtApply(_ m: UnsafePointer<Double>, _ s: Int) -> (Double, Double, Double) {
        let (m0, m1, m2, m3, m4, m5) = (m[0], m[s], m[2 * s], m[3 * s], m[4 * s], m[5 * s])
        return (m0 / 4 - (m1 + m2) / 6 + (m3 + m4) / 24, (m2 - m1) / 6 + (m3 - m4) / 12, (m3 + m4 - m1 - m2) / 6 + m5)
    }

    /// u[ξ][co][ci] = (G w[co, ci] Gᵀ)_ξ per axis; with `flipTranspose` the kernel flipped in space
    /// and laid out u[ξ][ci][co] (the input gradient's forward).
    static func transformWeights(_ w: UnsafePointer<Float>, cout: Int, cin: Int, flipTranspose: Bool,
                                 u: UnsafeMutablePointer<Float>) {
        let matrix = cout * cin
        Parallel.forEach(count: matrix, threads: matrix >= 256 ? Parallel.defaultThreads : 1) { pair in
            let co = pair / cin, ci = pair % cin
            let k = w + pair * 27
            let index = flipTranspose ? ci * cout + co : co * cin + ci
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 54 + 108) { buffer in
                let a = buffer.baseAddress!, b = a + 54   // a[(kd·3 + kh)·6 + ξw], b[(kd·6 + ξh)·6 + ξw]
                @inline(__always) func tap(_ i: Int) -> Double { Double(flipTranspose ? k[26 - i] : k[i]) }
                for line in 0..<9 {
                    let r = gApply(tap(3 * line), tap(3 * line + 1), tap(3 * line + 2))
                    let o = a + line * 6
                    o[0] = r.0; o[1] = r.1; o[2] = r.2; o[3] = r.3; o[4] = r.4; o[5] = r.5
                }
                for kd in 0..<3 {
                    for xw in 0..<6 {
                        let p = a + kd * 18 + xw
                        let r = gApply(p[0], p[6], p[12])
                        let o = b + kd * 36 + xw
                        o[0] = r.0; o[6] = r.1; o[12] = r.2; o[18] = r.3; o[24] = r.4; o[30] = r.5
                    }
                }
                for hw in 0..<36 {
                    let r = gApply(b[hw], b[36 + hw], b[72 + hw])
                    let o = u + hw * matrix + index, s = 36 * matrix
                    o[0] = Float(r.0); o[s] = Float(r.1); o[2 * s] = Float(r.2)
                    o[3 * s] = Float(r.3); o[4 * s] = Float(r.4); o[5 * s] = Float(r.5)
                }
            }
        }
    }

    /// dw[co, ci] += Gᵀ dU[ξ][co][ci] G per axis.
    static func accumulateWeightGradient(du: UnsafePointer<Float>, cout: Int, cin: Int,
                                         dw: UnsafeMutablePointer<Float>) {
        let matrix = cout * cin
        Parallel.forEach(count: matrix, threads: matrix >= 256 ? Parallel.defaultThreads : 1) { pair in
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 216 + 108 + 54) { buffer in
                let t = buffer.baseAddress!, b = t + 216, a = b + 108  // t[ξ], b[kd][ξh][ξw], a[kd][kh][ξw]
                for xi in 0..<216 { t[xi] = Double(du[xi * matrix + pair]) }
                for hw in 0..<36 {
                    let r = gtApply(t + hw, 36)
                    b[hw] = r.0; b[36 + hw] = r.1; b[72 + hw] = r.2
                }
                for kd in 0..<3 {
                    for xw in 0..<6 {
                        let r = gtApply(b + kd * 36 + xw, 6)
                        let o = a + kd * 18 + xw
                        o[0] = r.0; o[6] = r.1; o[12] = r.2
                    }
                }
                for line in 0..<9 {
                    let r = gtApply(a + line * 6, 1)
                    dw[pair * 27 + 3 * line] += Float(r.0)
                    dw[pair * 27 + 3 * line + 1] += Float(r.1)
                    dw[pair * 27 + 3 * line + 2] += Float(r.2)
                }
            }
        }
    }
}

/// Tiling of an [n, c, d, h, w] volume into 4×4×4 output tiles and of the tile rows into chunks
/// (a row = the tilesW tiles of one (sample, tile depth, tile height)); chunk buffers laid out
/// [channel][ξ][tile] like F(2,3)'s `WinogradPlan`.
struct WinogradF43Plan {
    let batch, d, h, w: Int
    let tilesD, tilesH, tilesW: Int
    /// Columns of one row in a chunk buffer: tilesW (no padding columns: a 16³ layer has 4 tiles
    /// per row, which whole vectors would double). The transforms store whole vectors, so a row's
    /// last vector spills into the next row's columns (written after it: rows go in increasing
    /// order) or into the slack after the chunk's last row (`componentStride` ≥ columns + 16).
    let rowStride: Int
    /// tilesW rounded up to whole SIMD8 vectors: the transforms' scratch row width.
    let vectorTiles: Int
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
        let bytesPerTile = WinogradF43.components * channels * MemoryLayout<Float>.size
        let target = max(tuning.minimumChunkTiles, tuning.chunkBytes / max(1, bytesPerTile))
        let rows = batch * tilesD * tilesH
        var perChunk = max(1, min(rows, target / max(1, rowStride)))
        perChunk = min(perChunk, (rows + tuning.threads - 1) / max(1, tuning.threads))
        rowsPerChunk = max(1, perChunk)
        componentStride = (rowsPerChunk * rowStride + 31) / 32 * 32 + 16
        threads = max(1, min(tuning.threads, (rows + rowsPerChunk - 1) / rowsPerChunk))
    }

    var rows: Int { batch * tilesD * tilesH }
    var chunkCount: Int { (rows + rowsPerChunk - 1) / rowsPerChunk }
    var planeSize: Int { d * h * w }

    func rowRange(chunk: Int) -> Range<Int> {
        chunk * rowsPerChunk ..< min(rows, (chunk + 1) * rowsPerChunk)
    }

    func decode(row: Int) -> (n: Int, td: Int, th: Int) {
        let perSample = tilesD * tilesH
        let rem = row % perSample
        return (row / perSample, rem / tilesH, rem % tilesH)
    }

    func columns(rows: Int) -> Int { rows * rowStride }

    /// Stride between channels (ld of every GEMM operand), one cache line more than the
    /// components (see `WinogradPlan.channelStride`).
    var channelStride: Int { WinogradF43.components * componentStride + WinogradPlan.channelPadding }

    func chunkFloats(channels: Int) -> Int { channels * channelStride + 16 }

    /// Floats of one worker's transform scratch (`WinogradF43Transforms`).
    var scratchFloats: Int { WinogradF43Transforms.scratchFloats(rowStride: vectorTiles) }

    /// Per-worker chunk buffers from `workspace` slot `slot` (64-byte aligned).
    func carve(dataChannels: Int, productChannels: Int, accumulatorFloats: Int, workspace: Workspace,
               slot: Int) -> [WinogradWorkerScratch] {
        @inline(__always) func round(_ x: Int) -> Int { (x + 15) / 16 * 16 }
        let sizes = [chunkFloats(channels: dataChannels), chunkFloats(channels: productChannels), scratchFloats,
                     16, accumulatorFloats].map(round)
        let perWorker = sizes.reduce(0, +)
        let base = workspace.buffer(slot, count: perWorker * threads + 16)
        let misalignment = Int(bitPattern: UnsafeRawPointer(base)) & 63
        let aligned = base + (misalignment == 0 ? 0 : (64 - misalignment) / MemoryLayout<Float>.size)
        return (0..<threads).map { k in
            var p = aligned + k * perWorker
            func take(_ i: Int) -> UnsafeMutablePointer<Float> { defer { p += sizes[i] }; return p }
            let data = take(0), products = take(1), lines = take(2), edge = take(3)
            return WinogradWorkerScratch(data: data, products: products, lines: lines, edge: edge,
                                         accumulator: take(4))
        }
    }

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
