import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// 1×1×1 convolutions with few output channels (the U-Net's head and deep-supervision heads:
/// features → classes) with the direct AVX-512 kernels of `CKernels/conv_small_avx512.c` instead
/// of GEMMs with M = classes rows (no GEMM shape: 8–11 % of peak). Forward: classes × 32 voxels
/// (≤ 4 classes) or × 16 voxels (5…16) in registers, x streamed once. Backward: dx, dW and dbias
/// in one pass over x and dy, input channels in pairs.
/// Runs on an AVX-512 CPU (without `DRO_PORTABLE_KERNELS=1`) for ≤ `directMaximumOutChannels`
/// output channels unless `DRO_HEAD=gemm`; the GEMM path stays the fallback.
extension Conv3d {
    /// At most this many output channels (the forward's register block of 16 channels × one
    /// vector, the backward's 2 × 16 accumulators; the fetal network has 9 classes).
    public static let directMaximumOutChannels = 16

    /// `DRO_HEAD=gemm` forces the GEMM path (the same-binary comparison in docs/performance.md).
    static let headForcedGEMM: Bool = (getenv("DRO_HEAD").map { String(cString: $0) }) == "gemm"

    /// The pointwise layer g runs the direct kernels (without a tile override).
    public static func usesDirectPointwise(_ g: Conv3dGeometry) -> Bool {
        g.isPointwise && g.outChannels <= directMaximumOutChannels && CPUFeatures.avx512 && !headForcedGEMM
    }

    /// Voxels per work item of the pointwise kernels.
    static let pointwiseBlock = 4096

    /// Forward with the direct kernel: overwrites y. Parallel over (sample, voxel block) items;
    /// each output is written once (values do not depend on the thread count).
    static func pointwiseForwardDirect(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                       y: UnsafeMutablePointer<Float>, g: Conv3dGeometry,
                                       threads: Int = Parallel.defaultThreads) {
        let v = g.outVoxels, blocks = (v + pointwiseBlock - 1) / pointwiseBlock
        guard v > 0, g.batch > 0 else { return }
        Parallel.forEach(0..<(g.batch * blocks), threads: threads) { r in
            for item in r {
                let n = item / blocks, b = item % blocks
                dro_pointwise_forward_avx512(x + n * g.inChannels * v, w, bias, y + n * g.outChannels * v,
                                             g.inChannels, g.outChannels, v,
                                             b * pointwiseBlock, min(v, (b + 1) * pointwiseBlock))
            }
        }
    }

    /// Backward with the direct kernel: dx OVERWRITTEN, or added into when `accumulateInput`
    /// (nil: skipped); dw and dbias ACCUMULATED. Worker k of `workers` owns a fixed contiguous
    /// range of (sample, voxel block) items and sums dw / dbias in its own Double partials, added
    /// in worker order (two runs give the same bits).
    static func pointwiseBackwardDirect(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                        dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                                        dbias: UnsafeMutablePointer<Float>?, g: Conv3dGeometry,
                                        accumulateInput: Bool, threads: Int = Parallel.defaultThreads,
                                        packDy: Bool? = nil) {
        let packDy = packDy ?? (pointwisePackDy && g.outChannels > pointwisePackMinimumChannels)
        let v = g.outVoxels, blocks = (v + pointwiseBlock - 1) / pointwiseBlock, items = g.batch * blocks
        guard v > 0, g.batch > 0 else { return }
        let workers = max(1, min(threads, items))
        let wn = g.outChannels * g.inChannels
        Parallel.sumWorkerPartials(workers: workers, weights: wn, bias: g.outChannels, dw: dw, dbias: dbias) { k, p in
            let packed = packDy ? UnsafeMutablePointer<Float>.allocate(capacity: g.outChannels * pointwiseBlock) : nil
            defer { packed?.deallocate() }
            for item in (items * k / workers)..<(items * (k + 1) / workers) {
                let n = item / blocks, b = item % blocks
                dro_pointwise_backward_avx512(x + n * g.inChannels * v, w, dy + n * g.outChannels * v,
                                              dx.map { $0 + n * g.inChannels * v }, accumulateInput ? 1 : 0,
                                              p, dbias == nil ? nil : p + wn, g.inChannels, g.outChannels, v,
                                              b * pointwiseBlock, min(v, (b + 1) * pointwiseBlock), packed)
            }
        }
    }

    /// The direct backward copies each chunk's dy rows to a contiguous buffer first when it has more
    /// output channels than `pointwisePackMinimumChannels` (`DRO_HEAD_DY=strided`: always read in
    /// place; the same values bit for bit).
    static let pointwisePackDy: Bool = (getenv("DRO_HEAD_DY").map { String(cString: $0) }) != "strided"
    /// More dy rows than the L2's 8 ways: packing won at 9 channels (fetal head, 96³: 0.62–0.71×)
    /// and lost at 4 (reference head, 64³: 1.05–1.55×); 5–8 not measured (docs/performance.md,
    /// "Loss, recompute, norm backward and the first layer at 96³").
    static let pointwisePackMinimumChannels = 8
}
