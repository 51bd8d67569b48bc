import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The backward of the 2×2×2 stride-2 transposed convolution from packed chunks of dy
/// (`CKernels/conv_transpose_packed_avx512.c`): per chunk of whole input rows, dy's taps are copied
/// de-interleaved into a contiguous [Cout·8, T] buffer and x transposed into [T, Cin], both
/// L2-resident, and dx = W·P and dWᵀ += P·Xᵀ run as register-blocked AVX-512 GEMMs on them. The
/// direct kernel read dy in place, where at 96³ its 4·Cout rows per input row share cache sets (the
/// channel planes lie a multiple of 128 KiB apart) and each re-read came from memory.
/// The forward likewise: per chunk, P = Wᵀ·X as a register-blocked GEMM into the buffer (voxels of
/// a chunk are contiguous across rows, so rows of 24 voxels fill the 16 lanes), then y's rows from
/// P with the taps interleaved; it runs for rows that are not a multiple of 16 voxels
/// (`packedForwardEnabled`). Both skip chunks shorter than `packedMinimumChunkVoxels`.
/// AVX-512 and stride 2 on every axis. `DRO_CONVT_PACKED=off` restores the paths before these
/// kernels (forward: direct or GEMM + scatter; backward: direct up to
/// `directBackwardMaximumChannelPairs`, else gather + GEMM); `=forward` / `=backward` keeps the
/// packed kernel in that direction only.
extension ConvTranspose3d {
    /// `DRO_CONVT_PACKED`: unset or `on` = both directions, `off`, `forward`, `backward`.
    static let packedSetting: (forward: Bool, backward: Bool) = {
        guard let v = getenv("DRO_CONVT_PACKED") else { return (true, true) }
        switch String(cString: v) {
        case "off": return (false, false)
        case "forward": return (true, false)
        case "backward": return (false, true)
        default: return (true, true)
        }
    }()

    /// Tuning knobs for same-binary measurements: `DRO_CONVT_PACKED_BUDGET` = Floats of P per chunk
    /// (default 96 Ki), `DRO_CONVT_PACKED_PREFETCH=0` turns the next-chunk prefetch off.
    static let tuning: (budget: Int, prefetch: Int32) = {
        let b = getenv("DRO_CONVT_PACKED_BUDGET").flatMap { Int(String(cString: $0)) } ?? (96 << 10)
        let p = getenv("DRO_CONVT_PACKED_PREFETCH").flatMap { Int32(String(cString: $0)) } ?? 1
        dro_convt_packed_prefetch = p
        return (b, p)
    }()

    /// Input voxels per chunk for Cout·8 rows of P: P at most ~384 KiB (with Xᵀ, the next chunk's
    /// prefetched rows and the weights in the 1 MiB L2), whole rows, at least one row (48 Ki to
    /// 192 Ki Floats measured within noise on up0 / up1, 2026-12-04).
    static func packedChunkVoxels(_ g: ConvTranspose3dGeometry) -> Int {
        let budget = tuning.budget
        let rows = max(1, budget / max(1, 8 * g.outChannels) / max(1, g.inW))
        return rows * g.inW
    }

    /// `backward` with the packed kernel (g.isStride2; AVX-512). dx OVERWRITTEN (nil: skipped),
    /// dw and dbias ACCUMULATED. Worker k of `workers` owns the input rows
    /// [rows·k/workers, rows·(k+1)/workers) and sums its weight and bias gradients in its own Double
    /// partials, added to dw in worker order: two runs give the same bits (the result depends on
    /// the thread count only by rounding).
    static func backwardPacked(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                               dbias: UnsafeMutablePointer<Float>?, g: ConvTranspose3dGeometry,
                               dySampleStride: Int? = nil, workspace: Workspace, chunkVoxels: Int? = nil,
                               threads: Int = Parallel.defaultThreads) {
        precondition(g.isStride2, "the packed transposed-conv backward serves kernel = stride = 2 only")
        let rows = g.batch * g.inD * g.inH
        guard rows > 0, g.inW > 0 else { return }
        let d = dims(g), dyStride = dySampleStride ?? g.outChannels * g.outVoxels
        let workers = max(1, min(threads, rows))
        _ = tuning
        let chunk = max(g.inW, chunkVoxels ?? packedChunkVoxels(g))
        let scratch = dro_convtranspose_backward_packed_scratch(g.inChannels, g.outChannels, chunk)
        let buffers = workspace.buffer(slot, count: workers * scratch)
        let k8 = 8 * g.outChannels, wn = g.weightCount, per = wn + g.outChannels
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: workers * per)
        partial.initialize(repeating: 0, count: workers * per)
        defer { partial.deallocate() }
        Parallel.forEach(0..<workers, threads: workers) { ks in
            for k in ks {
                let p = partial + k * per
                dro_convtranspose_backward_packed_avx512(x, w, dy, dx, p, dbias == nil ? nil : p + wn, d,
                                                         g.inChannels, g.outChannels, dyStride,
                                                         rows * k / workers, rows * (k + 1) / workers,
                                                         chunk, buffers + k * scratch)
            }
        }
        // The partials are [Cout·8, Cin]; dw is [Cin, Cout·8].
        let cin = g.inChannels
        Parallel.forEach(0..<cin, threads: threads) { cs in
            for ci in cs {
                for kk in 0..<k8 {
                    var s = 0.0
                    for k in 0..<workers { s += partial[k * per + kk * cin + ci] }
                    dw[ci * k8 + kk] += Float(s)
                }
            }
        }
        if let dbias {
            for c in 0..<g.outChannels {
                var s = 0.0
                for k in 0..<workers { s += partial[k * per + wn + c] }
                dbias[c] += Float(s)
            }
        }
    }
}

extension ConvTranspose3d {
    /// Whether `automaticBackwardKernel` takes the packed kernel: AVX-512, stride 2 on every axis,
    /// no `DRO_CONVT` forcing a path, not `DRO_CONVT_BACKWARD=old` or `DRO_BACKWARD_PATH=forward`.
    static func packedBackwardEnabled(_ g: ConvTranspose3dGeometry) -> Bool {
        CPUFeatures.avx512 && g.isStride2 && requested == nil && packedSetting.backward
            && !BackwardPathChoice.followsForward && packedChunkVoxels(g) >= packedMinimumChunkVoxels
    }

    /// Whether `forward` takes the packed kernel (AVX-512, stride 2, no `DRO_CONVT`, `DRO_CONVT_PACKED`
    /// not `off` / `backward`): only for rows that are not a multiple of 16 voxels, where the direct
    /// kernel leaves lanes empty (the fetal up1's 24: 1.0 : 0.86–0.93 at one thread, 2026-12-04);
    /// on whole vectors (up0's 48) the direct kernel, which writes y while it computes, measured
    /// the same (0.94–0.99) and keeps the layer.
    static func packedForwardEnabled(_ g: ConvTranspose3dGeometry) -> Bool {
        CPUFeatures.avx512 && g.isStride2 && requested == nil && packedSetting.forward
            && g.inW % 16 != 0 && packedChunkVoxels(g) >= packedMinimumChunkVoxels
    }

    /// Shortest chunk for the packed kernels: below it the per-chunk costs (the weight gradient's
    /// Double flush per tile, the forward's tiles of 8 rows of P) outweigh the blocking.
    public static let packedMinimumChunkVoxels = 64

    /// The kernel `forward` runs for g without a tile override.
    public static func automaticForwardKernel(_ g: ConvTranspose3dGeometry) -> Kernel {
        packedForwardEnabled(g) ? .packed : automaticKernel(g)
    }

    /// `forward` with the packed kernel (g.isStride2; AVX-512). Overwrites y. Parallel over input
    /// rows; every output is written once by one worker (values do not depend on the thread count).
    static func forwardPacked(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              y: UnsafeMutablePointer<Float>, g: ConvTranspose3dGeometry, ySampleStride: Int? = nil,
                              workspace: Workspace, chunkVoxels: Int? = nil, threads: Int = Parallel.defaultThreads) {
        precondition(g.isStride2, "the packed transposed conv serves kernel = stride = 2 only")
        let rows = g.batch * g.inD * g.inH
        guard rows > 0, g.inW > 0 else { return }
        _ = tuning
        let d = dims(g), yStride = ySampleStride ?? g.outChannels * g.outVoxels
        let workers = max(1, min(threads, rows))
        let chunk = max(g.inW, chunkVoxels ?? packedChunkVoxels(g))
        let scratch = dro_convtranspose_forward_packed_scratch(g.inChannels, g.outChannels, chunk)
        let buffers = workspace.buffer(slot, count: workers * scratch)
        Parallel.forEach(0..<workers, threads: workers) { ks in
            for k in ks {
                dro_convtranspose_forward_packed_avx512(x, w, bias, y, d, g.inChannels, g.outChannels, yStride,
                                                        rows * k / workers, rows * (k + 1) / workers, chunk,
                                                        buffers + k * scratch)
            }
        }
    }
}
