import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Swift entry points to the AVX2 + FMA convolution kernels of CKernels (`conv_kernels.h`):
/// stride-2 im2col / col2im (`conv_im2col_s2.c`), the direct single-channel first layer
/// (`conv_single_channel.c`) and the transposed convs' scatter / gather
/// (`conv_transpose_scatter.c`). Callers check `available` and the `applies…` test; otherwise the
/// Swift / OpenBLAS paths run, which stay the oracle (Tests/TensorTests/ConvCKernelTests.swift).
enum ConvCKernels {
    /// The CPU has AVX2 + FMA and `DRO_PORTABLE_KERNELS=1` is not set.
    static var available: Bool { CPUFeatures.avx2FMA }

    /// Row groups (ci, kd, kh) of a 3×3×3 kernel: 9 per input channel, 3 column rows (kw) each.
    static let groupsPerChannel = 9

    /// The stride-2 im2col/col2im kernels' shape: 3×3×3, stride 2, padding 1.
    static func appliesStride2(_ g: Conv3dGeometry) -> Bool {
        g.kernel == 3 && g.stride == 2 && g.padding == 1
    }

    static func dims(_ g: Conv3dGeometry) -> dro_conv_dims {
        dro_conv_dims(inD: g.inD, inH: g.inH, inW: g.inW, outD: g.outD, outH: g.outH, outW: g.outW)
    }

    /// Same contract as `Im2col.fill` for stride-2 layers (bit-identical columns).
    static func im2colStride2(x: UnsafePointer<Float>, g: Conv3dGeometry, v0: Int, count: Int,
                              col: UnsafeMutablePointer<Float>, threads: Int) {
        let d = dims(g)
        Parallel.forEach(0..<(g.inChannels * groupsPerChannel), threads: threads) { groups in
            dro_im2col_s2k3p1_avx2(x, d, v0, count, col, groups.lowerBound, groups.upperBound)
        }
    }

    /// Same contract as `Im2col.accumulate` for stride-2 layers (bit-identical sums: same order).
    /// Parallel over input channels, which own disjoint slices of dx.
    static func col2imStride2(col: UnsafePointer<Float>, g: Conv3dGeometry, v0: Int, count: Int,
                              dx: UnsafeMutablePointer<Float>, threads: Int) {
        let d = dims(g)
        Parallel.forEach(0..<g.inChannels, threads: threads) { channels in
            dro_col2im_s2k3p1_avx2(col, d, v0, count, dx, channels.lowerBound, channels.upperBound)
        }
    }

    /// Forward of the single-channel 3×3×3 stride-1 layer (`Conv3dSingleChannel.applies`).
    /// Overwrites y. Sums in a different order than im2col + sgemm (bias first, then the 27 taps
    /// with FMA), so results agree to Float rounding, not bit for bit. `avx512`: the AVX-512 kernel
    /// (the AVX2 kernel's values bit for bit; default on an AVX-512 CPU unless
    /// `DRO_CONV1CH_FORWARD=avx2`).
    static func singleChannelForward(x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                                     bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                                     g: Conv3dGeometry, threads: Int, avx512: Bool = singleChannelForwardAVX512) {
        let d = dims(g), rows = g.batch * g.inD * g.inH
        Parallel.forEach(0..<rows, threads: threads) { r in
            if avx512 {
                dro_conv1ch_forward_avx512(x, w, bias, y, d, g.outChannels, r.lowerBound, r.upperBound)
            } else {
                dro_conv1ch_forward_avx2(x, w, bias, y, d, g.outChannels, r.lowerBound, r.upperBound)
            }
        }
    }

    /// dw [Cout, 27] += the single-channel layer's weight gradient (as
    /// `Conv3dSingleChannel.accumulateWeightGradient`: Float lane sums over ≤ 16 rows, then
    /// Double; one Double partial per worker, summed in worker order).
    /// `avx512`: the AVX-512 kernel (`conv_single_channel_avx512.c`; default on an AVX-512 CPU
    /// unless `DRO_CONV1CH=avx2`), else the AVX2 one; `rowGroups`: its groups of 4 output rows
    /// (default; `DRO_CONV1CH=avx512-row`: one row at a time).
    /// dbias [Cout] (if given) += Σ dy per channel: in the same pass by the row-group kernel, else
    /// by `Conv3d.accumulateBiasGradient` after it.
    static func singleChannelWeightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                            dw: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>? = nil,
                                            g: Conv3dGeometry,
                                            threads: Int, avx512: Bool = singleChannelAVX512,
                                            rowGroups: Bool = singleChannelRowGroups) {
        let d = dims(g), rows = g.batch * g.inD * g.inH, n = g.outChannels * Conv3dSingleChannel.taps
        let workers = max(1, min(threads, rows))
        let fusedBias = dbias != nil && avx512 && rowGroups
        let stride = n + (fusedBias ? g.outChannels : 0)
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: workers * stride)
        partial.initialize(repeating: 0, count: workers * stride)
        defer { partial.deallocate() }
        Parallel.forEach(0..<workers, threads: workers) { ks in
            for k in ks {
                if avx512 && rowGroups {
                    dro_conv1ch_weight_grad_rows_avx512(x, dy, partial + k * stride, d, g.outChannels,
                                                        rows * k / workers, rows * (k + 1) / workers, fusedBias ? 1 : 0)
                } else if avx512 {
                    dro_conv1ch_weight_grad_avx512(x, dy, partial + k * n, d, g.outChannels,
                                                   rows * k / workers, rows * (k + 1) / workers)
                } else {
                    dro_conv1ch_weight_grad_avx2(x, dy, partial + k * n, d, g.outChannels,
                                                 rows * k / workers, rows * (k + 1) / workers)
                }
            }
        }
        for i in 0..<n {
            var s = 0.0
            for k in 0..<workers { s += partial[k * stride + i] }
            dw[i] += Float(s)
        }
        if let dbias {
            if fusedBias {
                for c in 0..<g.outChannels {
                    var s = 0.0
                    for k in 0..<workers { s += partial[k * stride + n + c] }
                    dbias[c] += Float(s)
                }
            } else {
                Conv3d.accumulateBiasGradient(dy: dy, dbias: dbias, batch: g.batch, channels: g.outChannels,
                                              voxels: g.outVoxels, threads: threads)
            }
        }
    }
}

extension ConvCKernels {
    /// The first layer's weight gradient runs the AVX-512 kernel (AVX-512 CPU, `DRO_CONV1CH` not "avx2").
    static let singleChannelAVX512: Bool =
        CPUFeatures.avx512 && (getenv("DRO_CONV1CH").map { String(cString: $0) }) != "avx2"
    /// The AVX-512 weight gradient over groups of output rows (`DRO_CONV1CH` not "avx512-row").
    static let singleChannelRowGroups: Bool = (getenv("DRO_CONV1CH").map { String(cString: $0) }) != "avx512-row"
    /// The first layer's forward runs the AVX-512 kernel (AVX-512 CPU, `DRO_CONV1CH_FORWARD` not "avx2").
    static let singleChannelForwardAVX512: Bool =
        CPUFeatures.avx512 && (getenv("DRO_CONV1CH_FORWARD").map { String(cString: $0) }) != "avx2"

    static func dims(_ g: ConvTranspose3dGeometry) -> dro_conv_dims {
        dro_conv_dims(inD: g.inD, inH: g.inH, inW: g.inW, outD: g.outD, outH: g.outH, outW: g.outW)
    }

    /// `ConvTranspose3d.scatterPortable` in C (same values): y of one sample from the tile's
    /// GEMM product p [Cout·8, count], + bias. Parallel over output channels (disjoint slices).
    static func transposeScatter(p: UnsafePointer<Float>, count: Int, bias: UnsafePointer<Float>?,
                                 y: UnsafeMutablePointer<Float>, g: ConvTranspose3dGeometry, v0: Int,
                                 threads: Int) {
        let d = dims(g)
        Parallel.forEach(0..<g.outChannels, threads: threads) { cs in
            dro_convtranspose_scatter_avx2(p, count, bias, y, d, v0, cs.lowerBound, cs.upperBound)
        }
    }

    /// `ConvTranspose3d.gatherPortable` in C (same values).
    static func transposeGather(dy: UnsafePointer<Float>, p: UnsafeMutablePointer<Float>, count: Int,
                                g: ConvTranspose3dGeometry, v0: Int, threads: Int) {
        let d = dims(g)
        Parallel.forEach(0..<g.outChannels, threads: threads) { cs in
            dro_convtranspose_gather_avx2(dy, p, count, d, v0, cs.lowerBound, cs.upperBound)
        }
    }
}
