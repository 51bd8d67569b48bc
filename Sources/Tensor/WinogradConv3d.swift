/// Winograd F(2×2×2, 3×3×3) convolution for stride-1, padding-1, 3×3×3 layers, NCDHW Float32.
///
/// Each 2×2×2 block of outputs ("tile") comes from a 4×4×4 input tile: y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A
/// per axis. Summed over input channels, the ⊙ becomes 64 GEMMs (one per transformed component ξ)
/// of M = Cout, K = Cin, N = tiles (`WinogradGEMM`: this package's C kernels or OpenBLAS, whichever
/// is faster with the OpenBLAS kernels in use): 64 instead of 27·8 = 216 multiplies per tile and
/// channel pair (3.4× fewer). Tiles are processed in chunks of whole tile rows sized for one core's
/// L2 (`WinogradTuning.chunkBytes`); the batch is folded into the tile dimension. Odd D/H/W work:
/// the last tile is zero-padded on input and cropped on output.
///
/// Parameter names: `weight:` is the kernel [Cout, Cin, 3, 3, 3] and `width:` the W extent (the
/// brief's `w:` would have meant both).
///
/// Scratch comes from `workspace` slots 0 (transformed weights / weight-gradient sum) and 1 (per
/// worker chunk buffers); a Workspace must not be shared between threads of control.
///
/// Threads: `Parallel.defaultThreads` workers each own whole chunks (transform, 64 GEMMs with
/// OpenBLAS held at one thread, transform); OpenBLAS's thread count is restored on return.
/// The weight gradient assigns chunks to workers in a fixed pattern, so it is bit-reproducible.
///
/// Use it where `isProfitable(cin:cout:)` holds; the first layer of a network on a one-channel
/// image is faster on im2col + sgemm.
public enum WinogradConv3d {
    /// Fewest channels on either side for which this path beats im2col + sgemm in both the
    /// forward and the weight gradient: with 1 input channel im2col wins both, with 2 it still
    /// wins the weight gradient (per-Cin figures: docs/performance.md, "Measurements behind
    /// constants in the code").
    public static let minimumProfitableChannels = 4

    /// Whether a stride-1, padding-1 3×3×3 layer with these channel counts should use this path.
    /// (The input gradient swaps the roles of Cin and Cout, hence the minimum over both.)
    public static func isProfitable(cin: Int, cout: Int) -> Bool {
        min(cin, cout) >= minimumProfitableChannels
    }

    /// x: [N, Cin, D, H, W], weight: [Cout, Cin, 3, 3, 3], bias: [Cout] → y: [N, Cout, D, H, W].
    /// Overwrites y.
    public static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int,
                               d: Int, h: Int, width: Int, workspace: Workspace) {
        forward(x: x, weight: weight, bias: bias, y: y, n: n, cin: cin, cout: cout, d: d, h: h, width: width,
                workspace: workspace, tuning: .standard)
    }

    /// The forward, also writing the instance-norm statistics of y per (sample, output channel)
    /// into `statistics`, gathered in the output stage while each tile row is in cache
    /// (`WinogradOutputStatistics`) instead of in a separate pass over y.
    public static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int,
                               d: Int, h: Int, width: Int, workspace: Workspace, statistics: WinogradNormStatistics) {
        forward(x: x, weight: weight, bias: bias, y: y, n: n, cin: cin, cout: cout, d: d, h: h, width: width,
                workspace: workspace, tuning: .standard, statistics: statistics)
    }

    /// Workspace slot of the per-row statistics partials (Doubles).
    static let statisticsSlot = 5

    /// dy: [N, Cout, D, H, W] → dx: [N, Cin, D, H, W]. Overwrites dx. This is the forward
    /// transform with the kernel flipped in space and its channel axes swapped.
    public static func backwardInput(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     dx: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int,
                                     d: Int, h: Int, width: Int, workspace: Workspace) {
        backwardInput(dy: dy, weight: weight, dx: dx, n: n, cin: cin, cout: cout, d: d, h: h, width: width,
                      workspace: workspace, tuning: .standard)
    }

    /// ACCUMULATES dL/dweight into dweight [Cout, Cin, 3, 3, 3] and dL/dbias into dbias [Cout]
    /// (dbias may be nil). Computed in the Winograd domain: dU_ξ = Σ_tiles (A dy Aᵀ)_ξ (Bᵀ x B)_ξᵀ,
    /// i.e. 64 GEMMs of M = Cout, N = Cin, K = tiles, then dweight += Gᵀ dU G. Layers with few
    /// tiles run `backwardWeightFewTiles` (`WinogradFewTilesWeightGradient.applies`).
    public static func backwardWeight(x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                      dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                      n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                                      workspace: Workspace) {
        // Few tiles (6³, 12³ at wide channels): the weight gradient without per-worker
        // accumulators (`WinogradFewTilesWeightGradient`, DRO_WINOGRAD_SMALL_DW).
        let tiles = n * ((d + 1) / 2) * ((h + 1) / 2) * ((width + 1) / 2)
        if WinogradFewTilesWeightGradient.applies(tiles: tiles, cin: cin, cout: cout, workers: Parallel.defaultThreads) {
            backwardWeightFewTiles(x: x, dy: dy, dweight: dweight, dbias: dbias, n: n, cin: cin, cout: cout,
                                   d: d, h: h, width: width, workspace: workspace)
            return
        }
        backwardWeight(x: x, dy: dy, dweight: dweight, dbias: dbias, n: n, cin: cin, cout: cout, d: d, h: h,
                       width: width, workspace: workspace, tuning: .standard)
    }

    // MARK: - Tunable entry points (the benchmark sweeps `tuning`)

    static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                        workspace: Workspace, tuning: WinogradTuning, statistics: WinogradNormStatistics? = nil) {
        precondition(n >= 0 && cin > 0 && cout > 0 && d >= 0 && h >= 0 && width >= 0,
                     "WinogradConv3d.forward: invalid shape n \(n) cin \(cin) cout \(cout) \(d)×\(h)×\(width)")
        guard n * d * h * width > 0 else { return }
        let u = workspace.buffer(0, count: WinogradWeightTransforms.components * cout * cin)
        WinogradWeightPreparation.prepare(.f23, kernel: tuning.gemmKernel(rows: cout), w: weight, cout: cout, cin: cin,
                                          flipTranspose: false, u: u)
        convolve(input: x, u: UnsafePointer(u), bias: bias, output: y, n: n, cin: cin, cout: cout,
                 d: d, h: h, w: width, workspace: workspace, tuning: tuning, statistics: statistics)
    }

    static func backwardInput(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                              n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                              workspace: Workspace, tuning: WinogradTuning) {
        precondition(n >= 0 && cin > 0 && cout > 0 && d >= 0 && h >= 0 && width >= 0,
                     "WinogradConv3d.backwardInput: invalid shape n \(n) cin \(cin) cout \(cout) \(d)×\(h)×\(width)")
        guard n * d * h * width > 0 else { return }
        let u = workspace.buffer(0, count: WinogradWeightTransforms.components * cout * cin)
        WinogradWeightPreparation.prepare(.f23, kernel: tuning.gemmKernel(rows: cin), w: weight, cout: cout, cin: cin,
                                          flipTranspose: true, u: u)
        convolve(input: dy, u: UnsafePointer(u), bias: nil, output: dx, n: n, cin: cout, cout: cin,
                 d: d, h: h, w: width, workspace: workspace, tuning: tuning)
    }

    /// output [n, cout, …] = conv(input [n, cin, …]) with transformed weights u [64][cout][cin].
    private static func convolve(input: UnsafePointer<Float>, u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                 output: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int,
                                 d: Int, h: Int, w: Int, workspace: Workspace, tuning: WinogradTuning,
                                 statistics: WinogradNormStatistics? = nil) {
        let tiles = n * ((d + 1) / 2) * ((h + 1) / 2) * ((w + 1) / 2)
        if tuning.threading == .workersOwnChunks && tuning.unpaddedRows
            && WinogradTransformsC.preferred == .avx512
            && WinogradFewTilesForward.applies(tiles: tiles, cin: cin, cout: cout, workers: tuning.threads) {
            convolveFewTiles(input: input, u: u, bias: bias, output: output, n: n, cin: cin, cout: cout, d: d, h: h,
                             w: w, workspace: workspace, kernel: tuning.gemmKernel(rows: cout), workers: tuning.threads,
                             statistics: statistics)
            return
        }
        let plan = WinogradPlan(batch: n, d: d, h: h, w: w, channels: cin + cout, tuning: tuning)
        let gather = statistics.map { _ -> WinogradOutputStatistics in
            let count = WinogradOutputStatistics.doubles(plan: plan, channels: cout)
            let raw = UnsafeMutableRawPointer(workspace.buffer(statisticsSlot, count: 2 * count))
            return WinogradOutputStatistics(plan: plan, channels: cout,
                                            partials: raw.bindMemory(to: Double.self, capacity: count))
        }
        let xiStride = plan.componentStride, ld = plan.channelStride
        let kernel = tuning.gemmKernel(rows: cout)
        let scratch = WinogradWorkerScratch.carve(plan: plan, dataChannels: cin, productChannels: cout,
                                                  accumulatorFloats: 0, count: plan.threads,
                                                  workspace: workspace, slot: 1)
        WinogradChunkDriver.run(
            plan: plan, threading: tuning.threading, scratch: scratch, inputItems: cin, outputItems: cout,
            fixedAssignment: false,
            transformIn: { chunkRows, rows, c, lanes, buffers in
                WinogradInputTransform.rows(
                    rows, input: input, channel: c, channels: cin, plan: plan,
                    out: buffers.data + c * ld + (rows.lowerBound - chunkRows.lowerBound) * plan.rowStride,
                    xiStride: xiStride, lines: lanes.lines)
            },
            gemms: { tiles, buffers in
                WinogradGEMM.forward(kernel, u: u, data: buffers.data, products: buffers.products,
                                     cout: cout, cin: cin, tiles: tiles, ld: ld, xiStride: xiStride,
                                     threads: tuning.threading == .blasThreads ? plan.threads : 1)
            },
            transformOut: { chunkRows, rows, co, lanes, buffers in
                for row in rows {
                    let (s, td, th) = plan.decode(row: row)
                    let plane = output + (s * cout + co) * plan.planeSize
                    WinogradTileTransforms.outputRow(
                        src: buffers.products + co * ld + (row - chunkRows.lowerBound) * plan.rowStride,
                        xiStride: xiStride, plane: plane,
                        d: d, h: h, w: w, td: td, th: th, tilesW: plan.tilesW, bias: bias?[co] ?? 0,
                        edge: lanes.edge, sink: lanes.lines, rowStride: plan.rowStride)
                    gather?.record(row: row, channel: co, plane: plane)
                }
            })
        if let gather, let statistics {
            gather.finish(statistics, threads: tuning.threads)
            UnsafeMutableRawPointer(gather.partials).bindMemory(to: Float.self, capacity: 2 * gather.plan.rows * cout)
        }
    }

    static func backwardWeight(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                               dbias: UnsafeMutablePointer<Float>?, n: Int, cin: Int, cout: Int,
                               d: Int, h: Int, width: Int, workspace: Workspace, tuning: WinogradTuning) {
        precondition(n >= 0 && cin > 0 && cout > 0 && d >= 0 && h >= 0 && width >= 0,
                     "WinogradConv3d.backwardWeight: invalid shape n \(n) cin \(cin) cout \(cout) \(d)×\(h)×\(width)")
        guard n * d * h * width > 0 else { return }
        let w = width
        let plan = WinogradPlan(batch: n, d: d, h: h, w: w, channels: cin + cout, tuning: tuning)
        let xiStride = plan.componentStride, ld = plan.channelStride
        let matrix = cout * cin, components = WinogradWeightTransforms.components
        let kernel = tuning.weightGemmKernel
        let scratch = WinogradWorkerScratch.carve(plan: plan, dataChannels: cin, productChannels: cout,
                                                  accumulatorFloats: components * matrix, count: plan.threads,
                                                  workspace: workspace, slot: 1)
        winogradZeroAccumulators(scratch, count: components * matrix)
        WinogradChunkDriver.run(
            plan: plan, threading: tuning.threading, scratch: scratch, inputItems: cin + cout, outputItems: 0,
            // Fixed chunk → worker assignment: each worker's partial dU, and so the result, is
            // the same from run to run (training stays reproducible from its seed).
            fixedAssignment: true,
            transformIn: { chunkRows, rows, item, lanes, buffers in
                let local = (rows.lowerBound - chunkRows.lowerBound) * plan.rowStride
                if item < cin {
                    WinogradInputTransform.rows(rows, input: x, channel: item, channels: cin, plan: plan,
                                                out: buffers.data + item * ld + local, xiStride: xiStride,
                                                lines: lanes.lines)
                    return
                }
                let co = item - cin
                for row in rows {
                    let (s, td, th) = plan.decode(row: row)
                    WinogradTileTransforms.gradientRow(
                        plane: dy + (s * cout + co) * plan.planeSize, d: d, h: h, w: w, td: td, th: th,
                        tilesW: plan.tilesW,
                        out: buffers.products + co * ld + (row - chunkRows.lowerBound) * plan.rowStride,
                        xiStride: xiStride, lines: lanes.lines, rowStride: plan.rowStride)
                }
            },
            gemms: { tiles, buffers in
                WinogradGEMM.weight(kernel, products: buffers.products, data: buffers.data,
                                    du: buffers.accumulator, cout: cout, cin: cin, tiles: tiles, ld: ld,
                                    xiStride: xiStride, threads: tuning.threading == .blasThreads ? plan.threads : 1)
            },
            transformOut: { _, _, _, _, _ in })
        // Sum the workers' partial dU into the first, then fold back to 3×3×3 kernels.
        winogradSumAccumulators(scratch, count: components * matrix, threads: tuning.threads)
        let total = scratch[0].accumulator
        WinogradWeightTransforms.accumulateGradient(du: total, cout: cout, cin: cin, dw: dweight)
        if let dbias {
            accumulateBiasGradient(dy: dy, dbias: dbias, n: n, cout: cout, planeSize: plan.planeSize,
                                   threads: tuning.threads)
        }
    }

    /// dbias[co] += Σ over samples and voxels of dy[n, co]; per-plane Float sums in 8 lanes,
    /// planes added in Double. Channels are split over `threads` (each sum is computed the same
    /// way whichever thread runs it, so the result does not depend on the thread count).
    static func accumulateBiasGradient(dy: UnsafePointer<Float>, dbias: UnsafeMutablePointer<Float>,
                                               n: Int, cout: Int, planeSize: Int, threads: Int) {
        Parallel.forEach(count: cout, threads: threads) { co in
            var sum = 0.0
            for s in 0..<n {
                let p = dy + (s * cout + co) * planeSize
                var lanes = SIMD8<Float>.zero
                var i = 0
                while i + 8 <= planeSize {
                    lanes += loadEight(p + i)
                    i += 8
                }
                var tail: Float = 0
                while i < planeSize { tail += p[i]; i += 1 }
                sum += Double(lanes.sum()) + Double(tail)
            }
            dbias[co] += Float(sum)
        }
    }
}
