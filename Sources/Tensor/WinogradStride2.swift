import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Stride-2, padding-1, 3×3×3 convolutions as a polyphase Winograd algorithm: per axis the even
/// input phase (tap w₁ alone, 3 components passed through) and F(3,2) on the odd phase (taps w₀,
/// w₂, 4 components) give 3 outputs from 7 components, 343 in 3D for a 3×3×3 output tile:
/// 12.7 multiplications per output and channel pair instead of the direct conv's 27
/// (docs/performance.md, "Stride-2 layers as a polyphase Winograd algorithm", has the matrices
/// and the measured errors).
///
/// - forward: input tiles x[6t−1 … 6t+5] per axis (7³, overlapping by one voxel), 343 component
///   GEMMs (M = Cout, K = Cin) per chunk of tiles, 3³ outputs per tile;
/// - input gradient: the transposed conv, dx[2i] = w₁·dy[i], dx[2i+1] = w₂·dy[i] + w₀·dy[i+1],
///   as the same kind of algorithm: dy[3t … 3t+3] → 7 components per axis → dx[6t … 6t+5];
/// - weight gradient: dU_ξ = Σ_tiles (Bᵀx)_ξ (A dy)_ξᵀ over the forward's tiles, then dw += Gᵀ dU G.
///
/// Chunks of whole tile rows as in `WinogradF43` ([channel][ξ][tile] buffers, every phase of a
/// chunk on one worker, OpenBLAS held at one thread), the component GEMMs `WinogradGEMM`'s with
/// `components: 343`, the transforms in C (CKernels/winograd_s2_transforms.c: portable, and the
/// same code compiled for AVX-512). The weight gradient assigns chunks to workers in a fixed
/// order (bit-reproducible for a thread count).
public enum WinogradStride2 {
    /// Transformed components per tile (7³).
    public static let components = 343

    /// `DRO_STRIDE2_WINOGRAD`: `auto` (default: `isProfitable`), `on` (every layer it applies to,
    /// for checks), `off`.
    public enum Mode: String, Sendable { case automatic = "auto", on, off }
    public static let mode: Mode =
        getenv("DRO_STRIDE2_WINOGRAD").flatMap { Mode(rawValue: String(cString: $0)) } ?? .automatic

    /// Whether g is a layer this algorithm computes (3×3×3, stride 2, padding 1 on every axis).
    public static func applies(_ g: Conv3dGeometry) -> Bool {
        g.kernelD == 3 && g.kernelH == 3 && g.kernelW == 3 && g.strideD == 2 && g.strideH == 2 && g.strideW == 2
            && g.paddingD == 1 && g.paddingH == 1 && g.paddingW == 1 && g.outVoxels > 0
    }

    /// Where it beats the direct polyphase kernels and im2col (measured: docs/performance.md,
    /// "Stride-2 layers as a polyphase Winograd algorithm"): an AVX-512 CPU (the transforms are
    /// vectorised for it), at least `minimumTiles` output tiles (the GEMMs' N), tiles at least
    /// `minimumFill` full (outputs that are not a multiple of 3 per axis pay for whole tiles: the
    /// reference network's 16³ output, 70 % full, was 1.5× slower than the polyphase kernels), and
    /// transformed weights of at most `maximumWeightFloats` (their memory and per-pass transform).
    public static func isProfitable(_ g: Conv3dGeometry) -> Bool {
        applies(g) && CPUFeatures.avx512 && tiles(g) >= minimumTiles && fill(g) >= minimumFill
            && components * g.inChannels * g.outChannels <= maximumWeightFloats
    }
    static let minimumTiles = 128
    static let minimumFill = 0.9
    static let maximumWeightFloats = 12 << 20

    /// Outputs per output-tile voxel: 1 where every output extent is a multiple of 3.
    static func fill(_ g: Conv3dGeometry) -> Double {
        Double(g.batch * g.outVoxels) / Double(tiles(g) * 27)
    }

    /// Whether the U-Net runs g on this algorithm (`mode`).
    public static func selected(_ g: Conv3dGeometry) -> Bool {
        switch mode {
        case .automatic: return isProfitable(g)
        case .on: return applies(g)
        case .off: return false
        }
    }

    /// For `CPUFeatures.summary`: "off", "on", or the automatic rule in force on this CPU.
    static var summary: String {
        switch mode {
        case .off: return "off"
        case .on: return "on"
        case .automatic:
            return CPUFeatures.avx512
                ? "at >= \(minimumTiles) tiles, >= \(Int(minimumFill * 100))% full, 343*Cin*Cout <= \(maximumWeightFloats)"
                : "off (no AVX-512)"
        }
    }

    /// Output tiles of the forward (3³ each).
    static func tiles(_ g: Conv3dGeometry) -> Int {
        g.batch * ((g.outD + 2) / 3) * ((g.outH + 2) / 3) * ((g.outW + 2) / 3)
    }

    /// Fewest tiles per chunk (`DRO_STRIDE2_WINOGRAD_TILES` for measurements).
    static let minimumChunkTiles: Int = getenv("DRO_STRIDE2_WINOGRAD_TILES").flatMap { Int(String(cString: $0)) } ?? 32

    /// Whether the transforms run their AVX-512 build (the CPU has it and DRO_PORTABLE_KERNELS is unset);
    /// settable for tests of the portable build.
    nonisolated(unsafe) static var avx512Transforms: Bool = CPUFeatures.avx512

    // MARK: - Passes

    /// x [N, Cin, D, H, W], weight [Cout, Cin, 3, 3, 3], bias [Cout] or nil → y [N, Cout, oD, oH, oW]. Overwrites y.
    public static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, g: Conv3dGeometry, workspace: Workspace,
                               threads: Int = Parallel.defaultThreads) {
        precondition(applies(g), "WinogradStride2.forward: not a 3×3×3 stride-2 padding-1 conv: \(g)")
        convolve(inputGradient: false, input: x, weight: weight, bias: bias, output: y, accumulate: false, g: g,
                 workspace: workspace, threads: threads)
    }

    /// dy [N, Cout, oD, oH, oW] → dx [N, Cin, D, H, W]. Overwrites dx, or adds to it with `accumulate`.
    public static func backwardInput(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     dx: UnsafeMutablePointer<Float>, g: Conv3dGeometry, workspace: Workspace,
                                     accumulate: Bool = false, threads: Int = Parallel.defaultThreads) {
        precondition(applies(g), "WinogradStride2.backwardInput: not a 3×3×3 stride-2 padding-1 conv: \(g)")
        convolve(inputGradient: true, input: dy, weight: weight, bias: nil, output: dx, accumulate: accumulate, g: g,
                 workspace: workspace, threads: threads)
    }

    /// The forward (x → y, tiles of 3 output voxels per axis) or the input gradient (dy → dx, tiles
    /// of 6 dx voxels): input transform → 343 GEMMs → output transform, chunk by chunk.
    private static func convolve(inputGradient: Bool, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, accumulate: Bool,
                                 g: Conv3dGeometry, workspace: Workspace, threads: Int) {
        let x = (channels: g.inChannels, d: g.inD, h: g.inH, w: g.inW)
        let y = (channels: g.outChannels, d: g.outD, h: g.outH, w: g.outW)
        let (src, dst) = inputGradient ? (y, x) : (x, y)
        let plan = Plan(batch: g.batch, outD: dst.d, outH: dst.h, outW: dst.w, tile: inputGradient ? 6 : 3,
                        channels: src.channels + dst.channels, threads: threads)
        let kernel = WinogradGEMM.automatic(rows: dst.channels)
        let u = workspace.buffer(0, count: components * src.channels * dst.channels)
        prepareWeights(weight, cout: g.outChannels, cin: g.inChannels, inputGradient: inputGradient, kernel: kernel,
                       u: u, threads: threads)
        let scratch = plan.carve(dataChannels: src.channels, productChannels: dst.channels, accumulatorFloats: 0,
                                 workspace: workspace)
        let inKind = inputGradient ? DRO_WS2_IN_DY_DX : DRO_WS2_IN_X, outKind = inputGradient ? DRO_WS2_OUT_DX : DRO_WS2_OUT_Y
        let timed = WinogradPhaseClock.enabled.load(ordering: .relaxed)
        plan.run(scratch: scratch, fixedAssignment: false) { rows, s in
            let t0 = timed ? WinogradPhaseClock.now() : 0
            transform(inKind, input, channels: src.channels, volume: src.d * src.h * src.w, d: src.d, h: src.h,
                      w: src.w, rows: rows, plan: plan, out: s.data, scratch: s.lines)
            let t1 = timed ? WinogradPhaseClock.now() : 0
            WinogradGEMM.forward(kernel, u: u, data: s.data, products: s.products, cout: dst.channels,
                                 cin: src.channels, tiles: plan.columns(rows: rows.count), ld: plan.channelStride,
                                 xiStride: plan.componentStride, components: components)
            let t2 = timed ? WinogradPhaseClock.now() : 0
            defer { if timed { WinogradPhaseClock.add(t0, t1, t2, WinogradPhaseClock.now()) } }
            inverse(outKind, s.products, channels: dst.channels, rows: rows, plan: plan, output: output,
                    volume: dst.d * dst.h * dst.w, d: dst.d, h: dst.h, w: dst.w, bias: bias, accumulate: accumulate,
                    scratch: s.lines)
        }
    }

    /// Whether `backwardWeight` takes an `activation` (the AVX-512 transforms run, and
    /// DRO_WINOGRAD_FUSED_ACTIVATION is not `off`).
    public static var fusesInputActivation: Bool { avx512Transforms && WinogradF43.fusedActivationEnabled }

    /// ACCUMULATES dL/dweight into dweight and dL/dbias into dbias (may be nil).
    /// With `activation`, x is the pre-activation z and the layer's input is
    /// LeakyReLU(z·scale + shift) per (sample, channel), computed inside the input transform (the
    /// same values as the activation written by `InstanceNormLeakyReLU.apply`, bit for bit); only
    /// where `fusesInputActivation`.
    public static func backwardWeight(x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                      dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                      g: Conv3dGeometry, workspace: Workspace, threads: Int = Parallel.defaultThreads,
                                      activation: WinogradInputActivation? = nil) {
        precondition(applies(g), "WinogradStride2.backwardWeight: not a 3×3×3 stride-2 padding-1 conv: \(g)")
        precondition(activation == nil || fusesInputActivation,
                     "WinogradStride2.backwardWeight: the input activation needs the AVX-512 transforms")
        let cin = g.inChannels, cout = g.outChannels, matrix = cout * cin
        let plan = Plan(batch: g.batch, outD: g.outD, outH: g.outH, outW: g.outW, tile: 3, channels: cin + cout,
                        threads: threads)
        let kernel = WinogradGEMM.automaticWeight
        let scratch = plan.carve(dataChannels: cin, productChannels: cout, accumulatorFloats: components * matrix,
                                 workspace: workspace)
        winogradZeroAccumulators(scratch, count: components * matrix)
        let inVolume = g.inD * g.inH * g.inW, outVolume = g.outVoxels
        let timed = WinogradPhaseClock.enabled.load(ordering: .relaxed)
        plan.run(scratch: scratch, fixedAssignment: true) { rows, s in
            let t0 = timed ? WinogradPhaseClock.now() : 0
            transform(DRO_WS2_IN_X, x, channels: cin, volume: inVolume, d: g.inD, h: g.inH, w: g.inW, rows: rows,
                      plan: plan, out: s.data, scratch: s.lines, activation: activation)
            let t1 = timed ? WinogradPhaseClock.now() : 0
            transform(DRO_WS2_IN_DY_DW, dy, channels: cout, volume: outVolume, d: g.outD, h: g.outH, w: g.outW,
                      rows: rows, plan: plan, out: s.products, scratch: s.lines)
            let t2 = timed ? WinogradPhaseClock.now() : 0
            WinogradGEMM.weight(kernel, products: s.products, data: s.data, du: s.accumulator, cout: cout, cin: cin,
                                tiles: plan.columns(rows: rows.count), ld: plan.channelStride,
                                xiStride: plan.componentStride, components: components)
            // Phases here: x transform, dy transform, GEMMs.
            if timed { WinogradPhaseClock.add(t0, t1, t2, WinogradPhaseClock.now()) }
        }
        winogradSumAccumulators(scratch, count: components * matrix, threads: threads)
        let du = UnsafePointer(scratch[0].accumulator)
        let avx512 = avx512Transforms
        Parallel.forEach(0..<cout, threads: matrix >= 256 ? threads : 1) { range in
            if avx512 {
                dro_ws2_weight_gradient_avx512(du, cout, cin, dweight, range.lowerBound, range.upperBound)
            } else {
                dro_ws2_weight_gradient(du, cout, cin, dweight, range.lowerBound, range.upperBound)
            }
        }
        if let dbias {
            WinogradConv3d.accumulateBiasGradient(dy: dy, dbias: dbias, n: g.batch, cout: cout, planeSize: outVolume,
                                                  threads: threads)
        }
    }

    // MARK: - Pieces

    /// u [343][M][K] (forward: M = Cout, K = Cin; input gradient: M = Cin, K = Cout), then packed
    /// where the GEMM kernel reads packed weights (`WinogradGEMM.prepareWeights`' layout).
    static func prepareWeights(_ w: UnsafePointer<Float>, cout: Int, cin: Int, inputGradient: Bool,
                               kernel: WinogradGEMM.Kernel, u: UnsafeMutablePointer<Float>, threads: Int) {
        let m = inputGradient ? cin : cout, k = inputGradient ? cout : cin
        let avx512 = avx512Transforms
        Parallel.forEach(0..<m, threads: m * k >= 256 ? threads : 1) { range in
            if avx512 {
                dro_ws2_weights_avx512(inputGradient ? 1 : 0, w, cout, cin, u, range.lowerBound, range.upperBound)
            } else {
                dro_ws2_weights(inputGradient ? 1 : 0, w, cout, cin, u, range.lowerBound, range.upperBound)
            }
        }
        // The packed order, per component (in place), split over the workers.
        guard WinogradGEMM.readsPackedWeights(kernel, cout: m) else { return }
        Parallel.forEach(0..<components, threads: m * k >= 256 ? threads : 1) { range in
            dro_winograd_pack_weights(u + range.lowerBound * m * k, m, k, range.count)
        }
    }

    /// Input-style transform of every channel's tile rows `rows` into out[c·ld + ξ·xiStride + column]
    /// (`activation`: of LeakyReLU(volume·scale + shift) per (sample, channel); DRO_WS2_IN_X only).
    static func transform(_ kind: Int, _ volume: UnsafePointer<Float>, channels: Int, volume planeSize: Int,
                          d: Int, h: Int, w: Int, rows: Range<Int>, plan: Plan, out: UnsafeMutablePointer<Float>,
                          scratch: UnsafeMutablePointer<Float>, activation: WinogradInputActivation? = nil) {
        let avx512 = avx512Transforms
        for c in 0..<channels {
            for row in rows {
                let (sample, td, th) = plan.decode(row: row)
                let plane = volume + (sample * channels + c) * planeSize
                let dst = out + c * plan.channelStride + (row - rows.lowerBound) * plan.rowStride
                let n = plan.following(channel: c, row: row, rows: rows, channels: channels)
                let next = n.map { volume + ($0.sample * channels + $0.channel) * planeSize }
                if let activation {
                    let r = sample * channels + c
                    dro_ws2_input_row_activated_avx512(plane, d, h, w, plan.tilesW, td, th, dst, plan.componentStride,
                                                       scratch, next, n?.td ?? 0, n?.th ?? 0, activation.scale[r],
                                                       activation.shift[r], activation.slope)
                } else if avx512 {
                    dro_ws2_input_row_avx512(Int32(kind), plane, d, h, w, plan.tilesW, td, th, dst, plan.componentStride,
                                             scratch, next, n?.td ?? 0, n?.th ?? 0)
                } else {
                    dro_ws2_input_row(Int32(kind), plane, d, h, w, plan.tilesW, td, th, dst, plan.componentStride,
                                      scratch, next, n?.td ?? 0, n?.th ?? 0)
                }
            }
        }
    }

    /// Output-style transform of every channel's rows from src[c·ld + ξ·xiStride + column] into `output`.
    static func inverse(_ kind: Int, _ src: UnsafePointer<Float>, channels: Int, rows: Range<Int>, plan: Plan,
                        output: UnsafeMutablePointer<Float>, volume planeSize: Int, d: Int, h: Int, w: Int,
                        bias: UnsafePointer<Float>?, accumulate: Bool = false, scratch: UnsafeMutablePointer<Float>) {
        let avx512 = avx512Transforms
        for c in 0..<channels {
            for row in rows {
                let (sample, td, th) = plan.decode(row: row)
                let plane = output + (sample * channels + c) * planeSize
                let from = src + c * plan.channelStride + (row - rows.lowerBound) * plan.rowStride
                let b = bias?[c] ?? 0
                let n = plan.following(channel: c, row: row, rows: rows, channels: channels)
                let next = n.map { output + ($0.sample * channels + $0.channel) * planeSize }
                if avx512 {
                    dro_ws2_output_row_avx512(Int32(kind), from, plan.componentStride, plane, d, h, w, plan.tilesW, td, th,
                                              b, accumulate ? 1 : 0, scratch, next, n?.td ?? 0, n?.th ?? 0)
                } else {
                    dro_ws2_output_row(Int32(kind), from, plan.componentStride, plane, d, h, w, plan.tilesW, td, th, b,
                                       accumulate ? 1 : 0, scratch, next, n?.td ?? 0, n?.th ?? 0)
                }
            }
        }
    }

    /// Tiling of the pass's output volume into tiles of `tile` voxels per axis (3: y; 6: dx) and
    /// of the tile rows into chunks; chunk buffers [channel][ξ][tile].
    struct Plan: WinogradRowTiling {
        let batch, d, h, w: Int
        let tilesD, tilesH, tilesW: Int
        let rowStride: Int
        let rowsPerChunk: Int
        /// Stride between the 343 component rows of a channel: ≥ tiles per chunk, rounded to an
        /// odd number of 64-byte lines plus a vector of slack (as `WinogradF43Plan`).
        let componentStride: Int
        let threads: Int

        init(batch: Int, outD: Int, outH: Int, outW: Int, tile: Int, channels: Int, threads: Int) {
            self.batch = batch; d = outD; h = outH; w = outW
            tilesD = (outD + tile - 1) / tile; tilesH = (outH + tile - 1) / tile; tilesW = (outW + tile - 1) / tile
            rowStride = tilesW
            let rows = batch * tilesD * tilesH
            var perChunk = max(1, (WinogradStride2.minimumChunkTiles + tilesW - 1) / max(1, tilesW))
            perChunk = min(perChunk, rows, (rows + threads - 1) / max(1, threads))
            rowsPerChunk = max(1, perChunk)
            componentStride = (rowsPerChunk * rowStride + 31) / 32 * 32 + 16
            self.threads = max(1, min(threads, (rows + rowsPerChunk - 1) / rowsPerChunk))
        }

        var channelStride: Int { WinogradStride2.components * componentStride + WinogradPlan.channelPadding }

        /// The (channel, sample, td, th) a channel-outer, row-inner loop over `rows` visits after
        /// (channel, row), nil after the last or with DRO_WINOGRAD_PREFETCH=off.
        func following(channel: Int, row: Int, rows: Range<Int>, channels: Int)
            -> (channel: Int, sample: Int, td: Int, th: Int)? {
            guard WinogradF43.prefetches,
                  let next = WinogradF43.following(channel: channel, row: row, rows: rows, channels: channels)
            else { return nil }
            let (sample, td, th) = decode(row: next.row)
            return (next.channel, sample, td, th)
        }

        /// Per-worker buffers from `workspace` slot 1 (64-byte aligned): chunk data and products,
        /// transform scratch, and `accumulatorFloats` for the weight gradient.
        func carve(dataChannels: Int, productChannels: Int, accumulatorFloats: Int,
                   workspace: Workspace) -> [WinogradWorkerScratch] {
            winogradCarveScratch(data: dataChannels * channelStride + 16, products: productChannels * channelStride + 16,
                                 lines: dro_ws2_scratch_floats(tilesW), accumulator: accumulatorFloats,
                                 threads: threads, workspace: workspace, slot: 1)
        }
    }
}
