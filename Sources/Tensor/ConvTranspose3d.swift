import Synchronization

/// Transposed 3D convolution with kernel = stride per axis (the U-Net's upsampling: 2×2×2, or
/// e.g. 2×2×1 for anisotropic networks), as GEMM + scatter.
///
/// Per sample, per tile of T input voxels: P [Cout·taps, T] = Wᵀ · X[:, tile] with W viewed as
/// [Cin, Cout·taps] (taps = sD·sH·sW); row co·taps + t of P goes to output voxel s ⊙ i + t. No
/// overlap between taps, so the scatter is a permutation and the backward gather is exact. For
/// stride 2 on every axis, scatter and gather run in C with AVX2 (`ConvCKernels`, same values)
/// when the CPU has it; other strides use the general Swift scatter/gather. On an AVX-512 CPU,
/// stride 2 runs direct kernels instead (`ConvTranspose3d+Direct.swift`; a `tile` forces GEMM), and
/// the backward (and the forward of rows that are not a multiple of 16 voxels) the packed-chunk
/// kernels of `ConvTranspose3d+Packed.swift`.
public enum ConvTranspose3d {
    /// Largest input voxels per GEMM tile.
    public static let tileVoxels = 4096
    /// Floats of one worker's P tile (rows × tile): 512 KB, so the GEMM writes it and the scatter
    /// (or the gather and the two GEMMs of the backward) read it while it is in L2.
    static let tileBudgetFloats = 128 << 10
    static let slot = 2

    /// Input voxels per tile for `rows` = Cout·taps rows of P: the L2 budget rounded down to 256,
    /// between 256 and `tileVoxels`, at most the sample's voxels.
    public static func tileSize(rows: Int, inVoxels: Int) -> Int {
        min(inVoxels, max(256, min(tileVoxels, tileBudgetFloats / max(1, rows) / 256 * 256)))
    }

    /// The tiles of all samples in order: tile i is sample i / perSample, voxels from v0.
    struct Tiling {
        let tile: Int, perSample: Int, count: Int, inVoxels: Int
        init(g: ConvTranspose3dGeometry, tile: Int) {
            self.tile = tile; inVoxels = g.inVoxels
            perSample = (g.inVoxels + tile - 1) / tile
            count = g.batch * perSample
        }
        /// (sample, first voxel, voxels) of tile i.
        func tile(_ i: Int) -> (n: Int, v0: Int, t: Int) {
            let n = i / perSample, v0 = (i % perSample) * tile
            return (n, v0, min(tile, inVoxels - v0))
        }
    }

    /// x [N, Cin, D, H, W], w [Cin, Cout, sD, sH, sW], bias [Cout] → y [N, Cout, sD·D, sH·H, sW·W].
    /// Overwrites y. `ySampleStride` (default Cout·taps·D·H·W) lets y be the first channels of a
    /// wider tensor (e.g. the U-Net's concat buffer).
    /// Workers own whole tiles (GEMM on one OpenBLAS thread, then the scatter, each in the
    /// worker's own P buffer), taking the next unclaimed tile: no barrier between the GEMM and the
    /// scatter, and P stays in the worker's L2. Every output is written once: values do not depend
    /// on the thread count.
    public static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, g: ConvTranspose3dGeometry,
                               ySampleStride: Int? = nil, workspace: Workspace, tile tileOverride: Int? = nil,
                               path: Kernel? = nil, threads: Int = Parallel.defaultThreads) {
        let kernel = path ?? (tileOverride == nil ? automaticForwardKernel(g) : .gemm)
        precondition(supports(kernel, g), "ConvTranspose3d.forward: \(kernel) does not serve this geometry")
        if kernel == .packed {
            forwardPacked(x: x, w: w, bias: bias, y: y, g: g, ySampleStride: ySampleStride, workspace: workspace,
                          threads: threads)
            return
        }
        if kernel == .direct {
            forwardDirect(x: x, w: w, bias: bias, y: y, g: g, ySampleStride: ySampleStride, threads: threads)
            return
        }
        let iv = g.inVoxels, rows = g.outChannels * g.kernelVolume
        guard g.batch > 0, iv > 0 else { return }
        let tiling = Tiling(g: g, tile: min(tileOverride ?? tileSize(rows: rows, inVoxels: iv), iv))
        let workers = min(max(1, threads), tiling.count)
        let buffers = workspace.buffer(slot, count: workers * rows * tiling.tile)
        let yStride = ySampleStride ?? g.outChannels * g.outVoxels
        let next = Atomic<Int>(0)
        Parallel.workersWithSerialBLAS(workers) { k in
            let p = buffers + k * rows * tiling.tile
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= tiling.count { break }
                let (n, v0, t) = tiling.tile(i)
                let xs = x + n * g.inChannels * iv, ys = y + n * yStride
                // One tile in all: its GEMM's columns split over the threads instead.
                parallelSgemm(transA: true, m: rows, n: t, k: g.inChannels, a: w, lda: rows,
                              b: xs + v0, ldb: iv, beta: 0, c: p, ldc: t, threads: workers == 1 ? threads : 1)
                if !g.isStride2 {
                    scatterGeneral(p: p, count: t, bias: bias, y: ys, g: g, v0: v0, threads: 1)
                } else if ConvCKernels.available {
                    ConvCKernels.transposeScatter(p: p, count: t, bias: bias, y: ys, g: g, v0: v0, threads: 1)
                } else {
                    scatterPortable(p: p, count: t, bias: bias, y: ys, g: g, v0: v0, threads: 1)
                }
            }
        }
    }

    /// Output voxels of input voxels v0..<v0+count of one sample y = P's rows (+ bias), tap by tap
    /// (Swift; the fallback and the oracle of the AVX2 scatter in `ConvCKernels`).
    static func scatterPortable(p: UnsafePointer<Float>, count t: Int, bias: UnsafePointer<Float>?,
                                y ys: UnsafeMutablePointer<Float>, g: ConvTranspose3dGeometry, v0: Int, threads: Int) {
        Parallel.forEach(0..<g.outChannels, threads: threads) { cs in
            for co in cs {
                let b = bias?[co] ?? 0
                let yc = ys + co * g.outVoxels
                for pair in 0..<4 {
                    // Taps (a, b, 0) and (a, b, 1) fill alternate voxels of the same output rows.
                    let even = p + (co * 8 + 2 * pair) * t, odd = even + t
                    visitRows(g: g, v0: v0, count: t, pair: pair) { j, len, o in
                        let out = yc + o, e = even + j, f = odd + j
                        for i in 0..<len { out[2 * i] = e[i] + b; out[2 * i + 1] = f[i] + b }
                    }
                }
            }
        }
    }

    /// Gradients of `forward`. dy [N, Cout, sD·D, sH·H, sW·W] (sample stride `dySampleStride`).
    /// dx [N, Cin, D, H, W]: OVERWRITTEN (nil: skipped). dw, dbias: ACCUMULATED.
    /// Workers own whole tiles as in `forward` (gather, then dx's GEMM and the weight gradient's
    /// from the worker's P); worker k takes tiles k, k + workers, … and sums its weight gradient in
    /// its own accumulator, added to dw in worker order, so the result does not depend on timing
    /// (it does depend on the thread count, by Float rounding). `path` forces a kernel (nil: the
    /// GEMM path with a `tile`, else `automaticBackwardKernel`).
    public static func backward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, g: ConvTranspose3dGeometry,
                                dySampleStride: Int? = nil, workspace: Workspace, tile tileOverride: Int? = nil,
                                path: Kernel? = nil, threads: Int = Parallel.defaultThreads) {
        let kernel = path ?? (tileOverride == nil ? automaticBackwardKernel(g) : .gemm)
        precondition(supports(kernel, g), "ConvTranspose3d.backward: \(kernel) does not serve this geometry")
        if kernel == .packed {
            backwardPacked(x: x, w: w, dy: dy, dx: dx, dw: dw, dbias: dbias, g: g, dySampleStride: dySampleStride,
                           workspace: workspace, threads: threads)
            return
        }
        if kernel == .direct {
            backwardDirect(x: x, w: w, dy: dy, dx: dx, dw: dw, dbias: dbias, g: g, dySampleStride: dySampleStride,
                           threads: threads)
            return
        }
        let iv = g.inVoxels, rows = g.outChannels * g.kernelVolume
        guard g.batch > 0, iv > 0 else { return }
        let tiling = Tiling(g: g, tile: min(tileOverride ?? tileSize(rows: rows, inVoxels: iv), iv))
        let workers = min(max(1, threads), tiling.count)
        let weightCount = g.inChannels * rows
        let pFloats = rows * tiling.tile
        let buffers = workspace.buffer(slot, count: workers * pFloats + (workers > 1 ? workers * weightCount : 0))
        let accumulators = buffers + workers * pFloats
        let dyStride = dySampleStride ?? g.outChannels * g.outVoxels
        Parallel.workersWithSerialBLAS(workers) { k in
            let p = buffers + k * pFloats
            let acc = workers > 1 ? accumulators + k * weightCount : dw
            if workers > 1 { acc.update(repeating: 0, count: weightCount) }
            for i in stride(from: k, to: tiling.count, by: workers) {
                let (n, v0, t) = tiling.tile(i)
                let xs = x + n * g.inChannels * iv, dys = dy + n * dyStride
                if !g.isStride2 {
                    gatherGeneral(dy: dys, p: p, count: t, g: g, v0: v0, threads: 1)
                } else if ConvCKernels.available {
                    ConvCKernels.transposeGather(dy: dys, p: p, count: t, g: g, v0: v0, threads: 1)
                } else {
                    gatherPortable(dy: dys, p: p, count: t, g: g, v0: v0, threads: 1)
                }
                // One tile in all: its GEMMs' columns split over the threads instead.
                let split = workers == 1 ? threads : 1
                parallelSgemm(transB: true, m: g.inChannels, n: rows, k: t, a: xs + v0, lda: iv,
                              b: p, ldb: t, beta: 1, c: acc, ldc: rows, threads: split)
                if let dx {
                    parallelSgemm(m: g.inChannels, n: t, k: rows, a: w, lda: rows, b: p, ldb: t,
                                  beta: 0, c: dx + n * g.inChannels * iv + v0, ldc: iv, threads: split)
                }
            }
        }
        if workers > 1 {
            Parallel.forEach(0..<weightCount, threads: threads) { range in
                for j in range {
                    var s = dw[j]
                    for k in 0..<workers { s += accumulators[k * weightCount + j] }
                    dw[j] = s
                }
            }
        }
        if let dbias {
            Parallel.forEach(0..<g.outChannels, threads: threads) { cs in
                for co in cs {
                    var s = 0.0
                    for n in 0..<g.batch { s += Reduce.sum(dy + n * dyStride + co * g.outVoxels, count: g.outVoxels) }
                    dbias[co] += Float(s)
                }
            }
        }
    }

    /// p[co·8 + tap, j] = dy[co, output of tap for input voxel v0 + j] for one sample (Swift; the
    /// fallback and the oracle of the AVX2 gather in `ConvCKernels`).
    static func gatherPortable(dy dys: UnsafePointer<Float>, p: UnsafeMutablePointer<Float>, count t: Int,
                               g: ConvTranspose3dGeometry, v0: Int, threads: Int) {
        Parallel.forEach(0..<g.outChannels, threads: threads) { cs in
            for co in cs {
                let yc = dys + co * g.outVoxels
                for pair in 0..<4 {
                    let even = p + (co * 8 + 2 * pair) * t, odd = even + t
                    visitRows(g: g, v0: v0, count: t, pair: pair) { j, len, o in
                        let src = yc + o, e = even + j, f = odd + j
                        for i in 0..<len { e[i] = src[2 * i]; f[i] = src[2 * i + 1] }
                    }
                }
            }
        }
    }

    /// For input voxels v0..<v0+count, walked as runs along W: body(j = tile column of the run's
    /// first voxel, len, output index of tap (a, b, 0) for that voxel) with (a, b) = the bits of
    /// `pair`; voxel j + i of the run maps to output o + 2·i (tap c = 0) and o + 2·i + 1 (c = 1).
    @inline(__always)
    static func visitRows(g: ConvTranspose3dGeometry, v0: Int, count: Int, pair: Int, _ body: (Int, Int, Int) -> Void) {
        let a = pair >> 1, b = pair & 1
        let ow = g.outW, ohw = g.outH * g.outW
        var v = v0, j = 0
        let end = v0 + count
        while v < end {
            let row = v / g.inW, w0 = v - row * g.inW
            let len = min(g.inW - w0, end - v)
            let h = row % g.inH, d = row / g.inH
            body(j, len, (2 * d + a) * ohw + (2 * h + b) * ow + 2 * w0)
            v += len
            j += len
        }
    }

    /// Scatter for any kernel = stride (sD, sH, sW): output voxel of tap t = (a, b, c) for input
    /// voxel v0 + j is (sD·d + a, sH·h + b, sW·w + c); y = P's row co·taps + t (+ bias).
    static func scatterGeneral(p: UnsafePointer<Float>, count t: Int, bias: UnsafePointer<Float>?,
                               y ys: UnsafeMutablePointer<Float>, g: ConvTranspose3dGeometry, v0: Int, threads: Int) {
        let taps = g.kernelVolume
        Parallel.forEach(0..<g.outChannels, threads: threads) { cs in
            for co in cs {
                let b = bias?[co] ?? 0
                let yc = ys + co * g.outVoxels
                for tap in 0..<taps {
                    let row = p + (co * taps + tap) * t
                    visitTapRuns(g: g, v0: v0, count: t, tap: tap) { j, len, o, step in
                        let out = yc + o, src = row + j
                        for i in 0..<len { out[i * step] = src[i] + b }
                    }
                }
            }
        }
    }

    /// The adjoint of `scatterGeneral` (without bias): p[co·taps + t, j] = dy[co, output of tap t
    /// for input voxel v0 + j].
    static func gatherGeneral(dy dys: UnsafePointer<Float>, p: UnsafeMutablePointer<Float>, count t: Int,
                              g: ConvTranspose3dGeometry, v0: Int, threads: Int) {
        let taps = g.kernelVolume
        Parallel.forEach(0..<g.outChannels, threads: threads) { cs in
            for co in cs {
                let yc = dys + co * g.outVoxels
                for tap in 0..<taps {
                    let row = p + (co * taps + tap) * t
                    visitTapRuns(g: g, v0: v0, count: t, tap: tap) { j, len, o, step in
                        let src = yc + o, dst = row + j
                        for i in 0..<len { dst[i] = src[i * step] }
                    }
                }
            }
        }
    }

    /// For input voxels v0..<v0+count walked as runs along W, and tap index `tap` = (a·sH + b)·sW + c:
    /// body(j = tile column of the run's first voxel, len, output index of that voxel's tap,
    /// step sW between consecutive voxels' outputs).
    @inline(__always)
    static func visitTapRuns(g: ConvTranspose3dGeometry, v0: Int, count: Int, tap: Int,
                             _ body: (Int, Int, Int, Int) -> Void) {
        let sH = g.strideH, sW = g.strideW
        let a = tap / (sH * sW), b = (tap / sW) % sH, c = tap % sW
        let ow = g.outW, ohw = g.outH * g.outW
        var v = v0, j = 0
        let end = v0 + count
        while v < end {
            let row = v / g.inW, w0 = v - row * g.inW
            let len = min(g.inW - w0, end - v)
            let h = row % g.inH, d = row / g.inH
            body(j, len, (g.strideD * d + a) * ohw + (sH * h + b) * ow + sW * w0 + c, sW)
            v += len
            j += len
        }
    }
}
