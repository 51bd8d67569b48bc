/// 3D convolution as im2col + sgemm, in tiles of output voxels so the column buffer stays
/// bounded (≤ `columnBudget` Floats) whatever the patch size.
///
/// Forward per sample n and tile: Y[n][:, tile] = [W | bias] [Cout, K+1] · [col; 1] [K+1, T]: the
/// bias rides in the GEMM as an extra row of ones, so the output is written once (no bias-fill
/// pass, no read-back of C).
/// Backward: dW += dY_tile · colᵀ, dcol = Wᵀ · dY_tile then col2im into dX.
/// Every GEMM splits its N columns over `threads` workers (`parallelSgemm`; for dW the columns
/// are dW's own, so each element is still one dot product over the tile, in order).
///
/// Single-channel 3×3×3 stride-1 layers (the U-Net's first conv) run direct kernels instead:
/// the forward in C with AVX2 + FMA (`ConvCKernels`, when the CPU has it), the weight gradient in
/// C or else in Swift SIMD (`Conv3dSingleChannel`) when no input gradient is asked for; passing
/// `tile` forces the im2col path (tests, `dro-bench unet --conv-phases`). Stride-2 layers'
/// im2col/col2im run in C with AVX2 when available (`Im2col`).
public enum Conv3d {
    /// Largest column tile in output voxels: 4096-column GEMMs are faster than one whole-volume
    /// GEMM (figures: docs/performance.md, "Measurements behind constants in the code").
    public static let maxTileColumns = 4096
    /// Target size of one im2col tile: 512 Ki Floats = 2 MB, the L2 of this machine's cores, so
    /// the fill writes and the GEMM reads stay in cache; the stride-2 layers' backward is faster
    /// at such tiles than at 4096 columns (same section of docs/performance.md).
    public static let columnBudget = 512 << 10
    /// Fewest columns per tile even for very large K (keeps GEMMs efficient).
    static let minTileColumns = 512
    /// Tiles are whole multiples of this many columns (OpenBLAS's N blocking works in such steps).
    static let tileGranule = 256

    /// Columns per tile for a geometry.
    public static func tileColumns(_ g: Conv3dGeometry) -> Int {
        let byBudget = max(minTileColumns, columnBudget / max(1, g.columnRows) / tileGranule * tileGranule)
        return max(1, min(maxTileColumns, byBudget, g.outVoxels))
    }

    /// Workspace slots used by this kernel: columns (0), column gradient (1), [W | bias] (5; 2 is
    /// ConvTranspose3d's, 3 DiceCELoss's, 4 ConvDispatch's).
    static let columnSlot = 0
    static let weightBiasSlot = 5

    /// x [N, Cin, D, H, W], w [Cout, Cin, kD, kH, kW], bias [Cout] or nil → y [N, Cout, oD, oH, oW].
    /// Name of the kernel `forward` runs for g, for profiles: "direct-avx512" (1×1×1 with
    /// ≤ 16 output channels on an AVX-512 CPU, `Conv3d+Pointwise.swift`), "sgemm" (other 1×1×1),
    /// "direct-avx512" / "direct-avx2" (Cin = 1 stride 1: its forward's kernel), "im2col-avx2+sgemm"
    /// (stride 2 on an AVX2 CPU) or "im2col+sgemm".
    public static func kernelName(_ g: Conv3dGeometry) -> String {
        if g.isPointwise { return usesDirectPointwise(g) ? "direct-avx512" : "sgemm" }
        guard ConvCKernels.available else { return "im2col+sgemm" }
        if Conv3dSingleChannel.applies(g) { return ConvCKernels.singleChannelForwardAVX512 ? "direct-avx512" : "direct-avx2" }
        return ConvCKernels.appliesStride2(g) ? "im2col-avx2+sgemm" : "im2col+sgemm"
    }

    /// Overwrites y.
    public static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                               g: Conv3dGeometry, workspace: Workspace,
                               tile tileOverride: Int? = nil,
                               threads: Int = Parallel.defaultThreads) {
        let inSample = g.inChannels * g.inVoxels, outSample = g.outChannels * g.outVoxels
        let ov = g.outVoxels, kRows = g.columnRows
        let tile = min(tileOverride ?? tileColumns(g), g.outVoxels)
        if tileOverride == nil && usesDirectPointwise(g) {
            pointwiseForwardDirect(x: x, w: w, bias: bias, y: y, g: g, threads: threads)
            return
        }
        if tileOverride == nil && ConvCKernels.available && Conv3dSingleChannel.applies(g) {
            ConvCKernels.singleChannelForward(x: x, w: w, bias: bias, y: y, g: g, threads: threads)
            return
        }
        if g.isPointwise {
            for n in 0..<g.batch {
                let xs = x + n * inSample, ys = y + n * outSample
                fillBias(ys, bias: bias, channels: g.outChannels, voxels: ov, threads: threads)
                var v0 = 0
                while v0 < ov {
                    let t = min(tile, ov - v0)
                    parallelSgemm(m: g.outChannels, n: t, k: kRows, a: w, lda: kRows, b: xs + v0, ldb: g.inVoxels,
                                  beta: 1, c: ys + v0, ldc: ov, threads: threads)
                    v0 += t
                }
            }
            return
        }
        // With a bias: A = [W | bias] [Cout, K+1] and a last column row of ones.
        let kb = bias == nil ? kRows : kRows + 1
        let col = workspace.buffer(columnSlot, count: kb * tile)
        var a = w
        if let bias {
            let wb = workspace.buffer(weightBiasSlot, count: g.outChannels * kb)
            for co in 0..<g.outChannels {
                (wb + co * kb).update(from: w + co * kRows, count: kRows)
                wb[co * kb + kRows] = bias[co]
            }
            a = UnsafePointer(wb)
        }
        for n in 0..<g.batch {
            let xs = x + n * inSample, ys = y + n * outSample
            var v0 = 0
            while v0 < ov {
                let t = min(tile, ov - v0)
                Im2col.fill(x: xs, g: g, v0: v0, count: t, col: col, threads: threads)
                if kb > kRows { (col + kRows * t).update(repeating: 1, count: t) }
                parallelSgemm(m: g.outChannels, n: t, k: kb, a: a, lda: kb, b: col, ldb: t, beta: 0, c: ys + v0, ldc: ov,
                              threads: threads)
                v0 += t
            }
        }
    }

    /// Gradients of `forward`. dy [N, Cout, oD, oH, oW].
    /// dx [N, Cin, D, H, W]: OVERWRITTEN, or accumulated into when `accumulateInput` (nil: skip).
    /// dw [Cout, Cin, kD, kH, kW] and dbias [Cout]: ACCUMULATED.
    public static func backward(x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                                dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                                dw: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                g: Conv3dGeometry, workspace: Workspace,
                                accumulateInput: Bool = false, tile tileOverride: Int? = nil,
                                threads: Int = Parallel.defaultThreads) {
        if tileOverride == nil && usesDirectPointwise(g) {
            pointwiseBackwardDirect(x: x, w: w, dy: dy, dx: dx, dw: dw, dbias: dbias, g: g,
                                    accumulateInput: accumulateInput, threads: threads)
            return
        }
        if dx == nil && tileOverride == nil && Conv3dSingleChannel.applies(g) {
            if ConvCKernels.available {
                ConvCKernels.singleChannelWeightGradient(x: x, dy: dy, dw: dw, dbias: dbias, g: g, threads: threads)
            } else {
                Conv3dSingleChannel.accumulateWeightGradient(x: x, dy: dy, dw: dw, g: g, threads: threads)
                if let dbias {
                    accumulateBiasGradient(dy: dy, dbias: dbias, batch: g.batch, channels: g.outChannels,
                                           voxels: g.outVoxels, threads: threads)
                }
            }
            return
        }
        let inSample = g.inChannels * g.inVoxels, outSample = g.outChannels * g.outVoxels
        let ov = g.outVoxels, kRows = g.columnRows
        let tile = min(tileOverride ?? tileColumns(g), g.outVoxels)
        // col2im accumulates, so dx starts at 0; the pointwise path writes each dx tile with one
        // GEMM (beta 0 when overwriting), so it needs no zeroing pass.
        if let dx, !accumulateInput, !g.isPointwise { dx.update(repeating: 0, count: g.inputCount) }
        let col = g.isPointwise ? nil : workspace.buffer(columnSlot, count: kRows * tile)
        let dcol = g.isPointwise ? nil : workspace.buffer(columnSlot + 1, count: kRows * tile)
        for n in 0..<g.batch {
            let xs = x + n * inSample, dys = dy + n * outSample
            var v0 = 0
            while v0 < ov {
                let t = min(tile, ov - v0)
                if let col, let dcol {
                    Im2col.fill(x: xs, g: g, v0: v0, count: t, col: col, threads: threads)
                    parallelSgemm(transB: true, m: g.outChannels, n: kRows, k: t, a: dys + v0, lda: ov,
                                  b: col, ldb: t, beta: 1, c: dw, ldc: kRows, threads: threads)
                    if let dx {
                        parallelSgemm(transA: true, m: kRows, n: t, k: g.outChannels, a: w, lda: kRows,
                                      b: dys + v0, ldb: ov, beta: 0, c: dcol, ldc: t, threads: threads)
                        Im2col.accumulate(col: dcol, g: g, v0: v0, count: t, dx: dx + n * inSample,
                                          threads: threads)
                    }
                } else {
                    parallelSgemm(transB: true, m: g.outChannels, n: kRows, k: t, a: dys + v0, lda: ov,
                                  b: xs + v0, ldb: g.inVoxels, beta: 1, c: dw, ldc: kRows, threads: threads)
                    if let dx {
                        parallelSgemm(transA: true, m: kRows, n: t, k: g.outChannels, a: w, lda: kRows,
                                      b: dys + v0, ldb: ov, beta: accumulateInput ? 1 : 0, c: dx + n * inSample + v0,
                                      ldc: g.inVoxels, threads: threads)
                    }
                }
                v0 += t
            }
        }
        if let dbias {
            accumulateBiasGradient(dy: dy, dbias: dbias, batch: g.batch, channels: g.outChannels,
                                   voxels: ov, threads: threads)
        }
    }

    /// y[c, :] = bias[c] (or 0) for one sample [C, V].
    static func fillBias(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
                         channels: Int, voxels: Int, threads: Int) {
        Parallel.forEach(0..<channels, threads: threads) { cs in
            for c in cs { (y + c * voxels).update(repeating: bias?[c] ?? 0, count: voxels) }
        }
    }

    /// dbias[c] += Σ_n Σ_v dy[n, c, v]. Sums in Double per channel.
    static func accumulateBiasGradient(dy: UnsafePointer<Float>, dbias: UnsafeMutablePointer<Float>,
                                       batch: Int, channels: Int, voxels: Int, threads: Int) {
        Parallel.forEach(0..<channels, threads: threads) { cs in
            for c in cs {
                var s = 0.0
                for n in 0..<batch {
                    s += Reduce.sum(dy + (n * channels + c) * voxels, count: voxels)
                }
                dbias[c] += Float(s)
            }
        }
    }
}
