import CKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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
                workspace: workspace, tuning: passTuning)
    }

    /// dy: [N, Cout, D, H, W] → dx: [N, Cin, D, H, W]. Overwrites dx.
    public static func backwardInput(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     dx: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int,
                                     d: Int, h: Int, width: Int, workspace: Workspace) {
        backwardInput(dy: dy, weight: weight, dx: dx, n: n, cin: cin, cout: cout, d: d, h: h, width: width,
                      workspace: workspace, tuning: passTuning)
    }

    /// ACCUMULATES dL/dweight into dweight and dL/dbias into dbias (may be nil):
    /// dU_ξ = Σ_tiles (A dy Aᵀ)_ξ (Bᵀ x B)_ξᵀ, then dweight += Gᵀ dU G.
    /// With `activation`, x is the pre-activation z and the layer's input is
    /// LeakyReLU(z·scale + shift) per (sample, channel), computed line by line inside the input
    /// transform (no pass writing the activation); only where `fusesInputActivation` holds.
    public static func backwardWeight(x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                      dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                      n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                                      workspace: Workspace, activation: WinogradInputActivation? = nil) {
        // Few tiles (12³ at wide channels): the weight gradient without per-worker accumulators
        // (`WinogradFewTilesWeightGradient`, DRO_WINOGRAD_SMALL_DW).
        let tiles = n * ((d + 3) / 4) * ((h + 3) / 4) * ((width + 3) / 4)
        if WinogradFewTilesWeightGradient.applies(tiles: tiles, cin: cin, cout: cout, workers: Parallel.defaultThreads) {
            backwardWeightFewTiles(x: x, dy: dy, dweight: dweight, dbias: dbias, n: n, cin: cin, cout: cout,
                                   d: d, h: h, width: width, workspace: workspace, activation: activation)
            return
        }
        backwardWeight(x: x, dy: dy, dweight: dweight, dbias: dbias, n: n, cin: cin, cout: cout, d: d, h: h,
                       width: width, workspace: workspace, tuning: standardTuning, activation: activation)
    }

    /// Whether `backwardWeight` takes an `activation` at this width: the AVX-512 one-row input
    /// transform runs there (not the row groups of 16³ / 32³ rows), and DRO_WINOGRAD_FUSED_ACTIVATION
    /// is not `off` (`off`: callers write the activation in a pass of its own, as before).
    public static func fusesInputActivation(width: Int) -> Bool {
        fusedActivationEnabled && WinogradF43Transforms.kernel == .avx512
            && WinogradF43Transforms.rowGroup(tilesW: (width + 3) / 4) == nil
    }

    /// False with DRO_WINOGRAD_FUSED_ACTIVATION=off (read once; settable for tests).
    public nonisolated(unsafe) static var fusedActivationEnabled: Bool =
        getenv("DRO_WINOGRAD_FUSED_ACTIVATION").map { String(cString: $0) } != "off"

    /// Defaults: F(2,3)'s chunk budget; at least 64 tiles per chunk (= 4096 outputs, F(2,3)'s
    /// 128 tiles are 1024) so the GEMMs keep a useful N.
    static var standardTuning: WinogradTuning { WinogradTuning(minimumChunkTiles: 64) }

    /// The forward's and input gradient's: `standardTuning`, with `DRO_WINOGRAD_F43_TILES=n` as
    /// the fewest tiles per chunk (for measurements; the weight gradient's: `weightChunkTiles`).
    static var passTuning: WinogradTuning {
        var tuning = standardTuning
        if let tiles = chunkTiles { tuning.minimumChunkTiles = tiles }
        return tuning
    }

    static let chunkTiles: Int? = getenv("DRO_WINOGRAD_F43_TILES").flatMap { Int(String(cString: $0)) }

    // MARK: - Tunable entry points

    static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                        workspace: Workspace, tuning: WinogradTuning) {
        precondition(n >= 0 && cin > 0 && cout > 0 && d >= 0 && h >= 0 && width >= 0,
                     "WinogradF43.forward: invalid shape n \(n) cin \(cin) cout \(cout) \(d)×\(h)×\(width)")
        guard n * d * h * width > 0 else { return }
        let u = workspace.buffer(0, count: components * cout * cin)
        WinogradWeightPreparation.prepare(.f43, kernel: tuning.gemmKernel(rows: cout), w: weight, cout: cout, cin: cin,
                                          flipTranspose: false, u: u)
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
        WinogradWeightPreparation.prepare(.f43, kernel: tuning.gemmKernel(rows: cin), w: weight, cout: cout, cin: cin,
                                          flipTranspose: true, u: u)
        convolve(input: dy, u: UnsafePointer(u), bias: nil, output: dx, n: n, cin: cout, cout: cin,
                 d: d, h: h, w: width, workspace: workspace, tuning: tuning)
    }

    /// output [n, cout, …] = conv(input [n, cin, …]) with transformed weights u [216][cout][cin].
    private static func convolve(input: UnsafePointer<Float>, u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                 output: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int,
                                 d: Int, h: Int, w: Int, workspace: Workspace, tuning: WinogradTuning) {
        let plan = WinogradF43Plan(batch: n, d: d, h: h, w: w, channels: cin + cout, tuning: tuning)
        let xiStride = plan.componentStride, ld = plan.channelStride
        let kernel = tuning.gemmKernel(rows: cout)
        let scratch = plan.carve(dataChannels: cin, productChannels: cout, accumulatorFloats: 0,
                                 workspace: workspace, slot: 1)
        let timed = WinogradPhaseClock.enabled.load(ordering: .relaxed)
        plan.run(scratch: scratch, fixedAssignment: false) { rows, s in
            let t0 = timed ? WinogradPhaseClock.now() : 0
            transformInput(input, channels: cin, rows: rows, plan: plan, out: s.data, ld: ld, xiStride: xiStride,
                           scratch: s.lines)
            let t1 = timed ? WinogradPhaseClock.now() : 0
            WinogradGEMM.forward(kernel, u: u, data: s.data, products: s.products, cout: cout, cin: cin,
                                 tiles: plan.columns(rows: rows.count), ld: ld, xiStride: xiStride,
                                 components: components)
            let t2 = timed ? WinogradPhaseClock.now() : 0
            defer { if timed { WinogradPhaseClock.add(t0, t1, t2, WinogradPhaseClock.now()) } }
            if plan.groupRows > 1 {
                forEachGroup(rows: rows, channels: cout, plan: plan) { co, first, count, next in
                    WinogradF43Transforms.outputRows(
                        src: s.products + co * ld + (first - rows.lowerBound) * plan.rowStride, xiStride: xiStride,
                        volume: output, channels: cout, channel: co, plan: plan, first: first, count: count,
                        bias: bias?[co] ?? 0, scratch: s.lines, next: next)
                }
            } else {
                for co in 0..<cout {
                    for row in rows {
                        let (sample, td, th) = plan.decode(row: row)
                        WinogradF43Transforms.outputRow(
                            src: s.products + co * ld + (row - rows.lowerBound) * plan.rowStride, xiStride: xiStride,
                            plane: output + (sample * cout + co) * plan.planeSize, plan: plan, td: td, th: th,
                            bias: bias?[co] ?? 0, scratch: s.lines,
                            next: nextRow(output, channels: cout, channel: co, row: row, rows: rows, plan: plan))
                    }
                }
            }
        }
    }

    static func backwardWeight(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                               dbias: UnsafeMutablePointer<Float>?, n: Int, cin: Int, cout: Int,
                               d: Int, h: Int, width: Int, workspace: Workspace, tuning: WinogradTuning,
                               activation: WinogradInputActivation? = nil) {
        precondition(n >= 0 && cin > 0 && cout > 0 && d >= 0 && h >= 0 && width >= 0,
                     "WinogradF43.backwardWeight: invalid shape n \(n) cin \(cin) cout \(cout) \(d)×\(h)×\(width)")
        guard n * d * h * width > 0 else { return }
        var tuning = tuning
        if let tiles = weightChunkTiles { tuning.minimumChunkTiles = tiles }
        let plan = WinogradF43Plan(batch: n, d: d, h: h, w: width, channels: cin + cout, tuning: tuning)
        precondition(activation == nil || (plan.groupRows == 1 && WinogradF43Transforms.kernel == .avx512),
                     "WinogradF43.backwardWeight: activation needs the AVX-512 one-row input transform (width \(width))")
        let xiStride = plan.componentStride, ld = plan.channelStride
        let matrix = cout * cin
        let kernel = tuning.weightGemmKernel
        let scratch = plan.carve(dataChannels: cin, productChannels: cout, accumulatorFloats: components * matrix,
                                 workspace: workspace, slot: 1)
        winogradZeroAccumulators(scratch, count: components * matrix)
        plan.run(scratch: scratch, fixedAssignment: true) { rows, s in
            // Channel by channel, rows inner (consecutive rows share voxel lines), each call
            // prefetching the next one's lines; row groups where the plan has them.
            if let activation {
                transformActivatedInput(x, activation: activation, channels: cin, rows: rows, plan: plan,
                                        out: s.data, ld: ld, xiStride: xiStride, scratch: s.lines)
            } else {
                transformInput(x, channels: cin, rows: rows, plan: plan, out: s.data, ld: ld, xiStride: xiStride,
                               scratch: s.lines)
            }
            if plan.groupRows > 1 {
                forEachGroup(rows: rows, channels: cout, plan: plan) { co, first, count, next in
                    WinogradF43Transforms.gradientRows(
                        volume: dy, channels: cout, channel: co, plan: plan, first: first, count: count,
                        out: s.products + co * ld + (first - rows.lowerBound) * plan.rowStride, xiStride: xiStride,
                        scratch: s.lines, next: next)
                }
            } else {
                for co in 0..<cout {
                    for row in rows {
                        let (sample, td, th) = plan.decode(row: row)
                        WinogradF43Transforms.gradientRow(
                            plane: dy + (sample * cout + co) * plan.planeSize, plan: plan, td: td, th: th,
                            out: s.products + co * ld + (row - rows.lowerBound) * plan.rowStride, xiStride: xiStride,
                            scratch: s.lines,
                            next: nextRow(dy, channels: cout, channel: co, row: row, rows: rows, plan: plan))
                    }
                }
            }
            WinogradGEMM.weight(kernel, products: s.products, data: s.data, du: s.accumulator, cout: cout,
                                cin: cin, tiles: plan.columns(rows: rows.count), ld: ld, xiStride: xiStride,
                                components: components)
        }
        winogradSumAccumulators(scratch, count: components * matrix, threads: tuning.threads)
        let total = scratch[0].accumulator
        accumulateWeightGradient(du: total, cout: cout, cin: cin, dw: dweight)
        if let dbias {
            WinogradConv3d.accumulateBiasGradient(dy: dy, dbias: dbias, n: n, cout: cout, planeSize: plan.planeSize,
                                                  threads: tuning.threads)
        }
    }
}

extension WinogradF43 {
    /// The (channel, row) a channel-outer, row-inner loop over `rows` visits after (channel, row),
    /// nil after the last.
    @inline(__always)
    static func following(channel: Int, row: Int, rows: Range<Int>, channels: Int) -> (channel: Int, row: Int)? {
        if row + 1 < rows.upperBound { return (channel, row + 1) }
        return channel + 1 < channels ? (channel + 1, rows.lowerBound) : nil
    }

    /// DRO_WINOGRAD_F43_WEIGHT_TILES=n: fewest tiles per chunk of the weight gradient (for
    /// measurements; nil = the tuning's).
    static let weightChunkTiles: Int? = getenv("DRO_WINOGRAD_F43_WEIGHT_TILES").flatMap { Int(String(cString: $0)) }

    /// False with DRO_WINOGRAD_PREFETCH=off (same-binary measurements of the prefetch; read once).
    static let prefetches: Bool = getenv("DRO_WINOGRAD_PREFETCH").map { String(cString: $0) } != "off"

    /// Runs `body(channel, first, count, next)` for the row groups of `rows` (plan.groupRows rows
    /// each, the last one possibly fewer) of every channel, channel outer, rows inner; `next` is
    /// the following call's group (count 0 after the last, or with DRO_WINOGRAD_PREFETCH=off).
    @inline(__always)
    /// Input transform (Bᵀ x B) of the tile rows `rows` of every channel of `volume` [n, channels,
    /// d, h, w] into out[c·ld + ξ·xiStride + column] (columns from the chunk's first row): row
    /// groups where the plan has them, else row by row, each call prefetching the next one's lines.
    /// `channelRange`: only those channels (nil: all).
    static func transformInput(_ volume: UnsafePointer<Float>, channels: Int, channelRange: Range<Int>? = nil,
                               rows: Range<Int>, plan: WinogradF43Plan,
                               out: UnsafeMutablePointer<Float>, ld: Int, xiStride: Int,
                               scratch: UnsafeMutablePointer<Float>) {
        if plan.groupRows > 1 {
            forEachGroup(rows: rows, channels: channels, channelRange: channelRange, plan: plan) { c, first, count, next in
                WinogradF43Transforms.inputRows(
                    volume: volume, channels: channels, channel: c, plan: plan, first: first, count: count,
                    out: out + c * ld + (first - rows.lowerBound) * plan.rowStride, xiStride: xiStride,
                    scratch: scratch, next: next)
            }
        } else {
            for c in channelRange ?? 0..<channels {
                for row in rows {
                    let (sample, td, th) = plan.decode(row: row)
                    WinogradF43Transforms.inputRow(
                        plane: volume + (sample * channels + c) * plan.planeSize, plan: plan, td: td, th: th,
                        out: out + c * ld + (row - rows.lowerBound) * plan.rowStride, xiStride: xiStride,
                        scratch: scratch,
                        next: nextRow(volume, channels: channels, channel: c, row: row, rows: rows, plan: plan))
                }
            }
        }
    }

    /// `transformInput` (one-row AVX-512 path) of LeakyReLU(volume·scale + shift) with the
    /// (sample, channel) row's scale and shift: the same values as the activation written first
    /// by `InstanceNormLeakyReLU.apply` and then transformed, bit for bit.
    static func transformActivatedInput(_ volume: UnsafePointer<Float>, activation: WinogradInputActivation,
                                        channels: Int, channelRange: Range<Int>? = nil, rows: Range<Int>,
                                        plan: WinogradF43Plan, out: UnsafeMutablePointer<Float>, ld: Int,
                                        xiStride: Int, scratch: UnsafeMutablePointer<Float>) {
        for c in channelRange ?? 0..<channels {
            for row in rows {
                let (sample, td, th) = plan.decode(row: row)
                let r = sample * channels + c
                let next = nextRow(volume, channels: channels, channel: c, row: row, rows: rows, plan: plan)
                dro_winograd_f43_input_row_activated_avx512(
                    volume + r * plan.planeSize, Int64(plan.d), Int64(plan.h), Int64(plan.w), Int64(plan.vectorTiles),
                    Int64(td), Int64(th), out + c * ld + (row - rows.lowerBound) * plan.rowStride, Int64(xiStride),
                    scratch, next?.plane, Int64(next?.td ?? 0), Int64(next?.th ?? 0),
                    activation.scale[r], activation.shift[r], activation.slope)
            }
        }
    }

    /// `channelRange`: only those channels (nil: all); `next` stays within them.
    static func forEachGroup(rows: Range<Int>, channels: Int, channelRange: Range<Int>? = nil, plan: WinogradF43Plan,
                             _ body: (Int, Int, Int, WinogradF43Transforms.NextGroup) -> Void) {
        let size = plan.groupRows
        let range = channelRange ?? 0..<channels
        for c in range {
            var first = rows.lowerBound
            while first < rows.upperBound {
                let count = min(size, rows.upperBound - first), after = first + count
                var next = WinogradF43Transforms.NextGroup(channel: 0, first: 0, count: 0)
                if prefetches {
                    if after < rows.upperBound {
                        next = .init(channel: c, first: after, count: min(size, rows.upperBound - after))
                    } else if c + 1 < range.upperBound {
                        next = .init(channel: c + 1, first: rows.lowerBound, count: min(size, rows.count))
                    }
                }
                body(c, first, count, next)
                first = after
            }
        }
    }

    /// The plane and tile row of the transform after (channel, row) in `volume` [n, channels,
    /// d, h, w], for the kernels to prefetch: they read (or write) lines of 4–6 planes with short
    /// runs each, which the hardware prefetchers do not follow (docs/performance.md).
    @inline(__always)
    static func nextRow(_ volume: UnsafePointer<Float>, channels: Int, channel: Int, row: Int, rows: Range<Int>,
                        plan: WinogradF43Plan) -> WinogradF43Transforms.NextRow? {
        guard prefetches, let next = following(channel: channel, row: row, rows: rows, channels: channels) else { return nil }
        let (sample, td, th) = plan.decode(row: next.row)
        return .init(plane: volume + (sample * channels + next.channel) * plan.planeSize, td: td, th: th)
    }
}
