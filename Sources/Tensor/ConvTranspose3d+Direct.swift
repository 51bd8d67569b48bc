import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The transposed convolution 2×2×2 stride 2 with the direct AVX-512 kernels of
/// `CKernels/conv_small_avx512.c` instead of GEMM + scatter (forward) and gather + two GEMMs
/// (backward): the forward writes each output row pair from the input row in registers (no P
/// matrix, no scatter pass); the backward reads dy rows in place, de-interleaving the c = 0 / 1
/// taps in registers, for both the input gradient and the weight gradient.
/// Runs on an AVX-512 CPU (and without `DRO_PORTABLE_KERNELS=1`) for stride 2 on every axis and
/// rows of ≥ `directMinimumWidth` voxels, unless `DRO_CONVT=gemm`; other strides (anisotropic 2×2×1) keep the GEMM path, which stays the
/// fallback. The backward of layers above `directBackwardMaximumChannelPairs` Cin·Cout runs the GEMM
/// path (`automaticBackwardKernel`, BackwardPathChoice.swift).
extension ConvTranspose3d {
    /// Which kernel `forward` / `backward` run.
    /// (`packed`: `ConvTranspose3d+Packed.swift`.)
    public enum Kernel: String, Sendable, CaseIterable { case direct, gemm, packed }

    /// `DRO_CONVT=gemm` forces the GEMM path (the same-binary comparison in docs/performance.md);
    /// `DRO_CONVT=direct` runs the direct kernel on rows of any width (on an AVX-512 CPU), e.g. for
    /// the PyTorch cross-check, whose small network has rows narrower than `directMinimumWidth`.
    static let requested: String? = getenv("DRO_CONVT").map { String(cString: $0) }
    static var forcedGEMM: Bool { requested == "gemm" }

    /// Narrowest input rows for the direct kernel: its vectors run along W (16 lanes), so rows of
    /// 8 leave half the lanes empty; measured 2026-12-03 on the reference net's up2 (8³ → 16³,
    /// 128 → 64 channels, one thread): direct 1.4× (forward) and 2.2× (backward) the GEMM path's
    /// time, so such layers keep the GEMM path (docs/performance.md).
    public static let directMinimumWidth = 16

    /// The kernel `forward` / `backward` run for g (without a tile override).
    public static func automaticKernel(_ g: ConvTranspose3dGeometry) -> Kernel {
        CPUFeatures.avx512 && g.isStride2 && (g.inW >= directMinimumWidth || requested == "direct") && !forcedGEMM
            ? .direct : .gemm
    }

    /// Whether `kernel` can run g on this CPU (the GEMM path serves every geometry).
    public static func supports(_ kernel: Kernel, _ g: ConvTranspose3dGeometry) -> Bool {
        switch kernel {
        case .gemm: return true
        case .direct, .packed: return CPUFeatures.avx512 && g.isStride2
        }
    }

    /// Name for profiles: "direct-avx512" or the GEMM path's.
    public static func kernelName(_ g: ConvTranspose3dGeometry, backward: Bool) -> String {
        let kernel = backward ? automaticBackwardKernel(g) : automaticForwardKernel(g)
        if kernel == .direct { return "direct-avx512" }
        if kernel == .packed { return "packed-avx512" }
        let general = g.isStride2 ? "" : "-general"
        return backward ? "gather\(general)+sgemm" : "sgemm+scatter\(general)"
    }

    static func dims(_ g: ConvTranspose3dGeometry) -> dro_conv_dims {
        dro_conv_dims(inD: g.inD, inH: g.inH, inW: g.inW, outD: g.outD, outH: g.outH, outW: g.outW)
    }

    /// `forward` with the direct kernel (g.isStride2; AVX-512). Overwrites y. Parallel over input
    /// rows; every output is written once by one worker (values do not depend on the thread count).
    static func forwardDirect(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              y: UnsafeMutablePointer<Float>, g: ConvTranspose3dGeometry, ySampleStride: Int? = nil,
                              threads: Int = Parallel.defaultThreads) {
        precondition(g.isStride2, "the direct transposed conv serves kernel = stride = 2 only")
        let rows = g.batch * g.inD * g.inH
        guard rows > 0, g.inW > 0 else { return }
        let d = dims(g), yStride = ySampleStride ?? g.outChannels * g.outVoxels
        Parallel.forEach(0..<rows, threads: threads) { r in
            dro_convtranspose_forward_avx512(x, w, bias, y, d, g.inChannels, g.outChannels, yStride,
                                             r.lowerBound, r.upperBound)
        }
    }

    /// `backward` with the direct kernel (g.isStride2; AVX-512). dx OVERWRITTEN (nil: skipped),
    /// dw and dbias ACCUMULATED. Worker k of `workers` owns the input rows
    /// [rows·k/workers, rows·(k+1)/workers) and sums its weight and bias gradients in its own Double
    /// partials, added to dw in worker order: two runs give the same bits (the result depends on
    /// the thread count only by rounding).
    static func backwardDirect(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                               dbias: UnsafeMutablePointer<Float>?, g: ConvTranspose3dGeometry,
                               dySampleStride: Int? = nil, threads: Int = Parallel.defaultThreads) {
        precondition(g.isStride2, "the direct transposed conv serves kernel = stride = 2 only")
        let rows = g.batch * g.inD * g.inH
        guard rows > 0, g.inW > 0 else { return }
        let d = dims(g), dyStride = dySampleStride ?? g.outChannels * g.outVoxels
        let workers = max(1, min(threads, rows))
        let wn = g.weightCount
        Parallel.sumWorkerPartials(workers: workers, weights: wn, bias: g.outChannels, dw: dw, dbias: dbias) { k, p in
            dro_convtranspose_backward_avx512(x, w, dy, dx, p, dbias == nil ? nil : p + wn, d,
                                              g.inChannels, g.outChannels, dyStride,
                                              rows * k / workers, rows * (k + 1) / workers)
        }
    }
}
