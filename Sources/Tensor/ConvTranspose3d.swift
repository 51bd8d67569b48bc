/// Transposed 3D convolution, kernel 2, stride 2 (the U-Net's upsampling), as GEMM + scatter.
///
/// Per sample, per tile of T input voxels: P [Cout·8, T] = Wᵀ · X[:, tile] with W viewed as
/// [Cin, Cout·8]; row co·8 + t of P goes to output voxel 2·i + t. No overlap between taps, so the
/// scatter is a permutation and the backward gather is exact. Scatter and gather run in C with
/// AVX2 (`ConvCKernels`, same values) when the CPU has it.
public enum ConvTranspose3d {
    /// Input voxels per GEMM tile.
    public static let tileVoxels = 4096
    static let slot = 2

    /// x [N, Cin, D, H, W], w [Cin, Cout, 2, 2, 2], bias [Cout] → y [N, Cout, 2D, 2H, 2W].
    /// Overwrites y. `ySampleStride` (default Cout·8·D·H·W) lets y be the first channels of a
    /// wider tensor (e.g. the U-Net's concat buffer).
    public static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, g: ConvTranspose3dGeometry,
                               ySampleStride: Int? = nil, workspace: Workspace, tile tileOverride: Int? = nil,
                               threads: Int = Parallel.defaultThreads) {
        let iv = g.inVoxels, rows = g.outChannels * 8
        let tile = min(tileOverride ?? tileVoxels, iv)
        let p = workspace.buffer(slot, count: rows * tile)
        let yStride = ySampleStride ?? g.outChannels * g.outVoxels
        for n in 0..<g.batch {
            let xs = x + n * g.inChannels * iv, ys = y + n * yStride
            var v0 = 0
            while v0 < iv {
                let t = min(tile, iv - v0)
                sgemm(transA: true, m: rows, n: t, k: g.inChannels, a: w, lda: rows,
                      b: xs + v0, ldb: iv, beta: 0, c: p, ldc: t)
                if ConvCKernels.available {
                    ConvCKernels.transposeScatter(p: p, count: t, bias: bias, y: ys, g: g, v0: v0, threads: threads)
                } else {
                    scatterPortable(p: p, count: t, bias: bias, y: ys, g: g, v0: v0, threads: threads)
                }
                v0 += t
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

    /// Gradients of `forward`. dy [N, Cout, 2D, 2H, 2W] (sample stride `dySampleStride`).
    /// dx [N, Cin, D, H, W]: OVERWRITTEN (nil: skipped). dw, dbias: ACCUMULATED.
    public static func backward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, g: ConvTranspose3dGeometry,
                                dySampleStride: Int? = nil, workspace: Workspace, tile tileOverride: Int? = nil,
                                threads: Int = Parallel.defaultThreads) {
        let iv = g.inVoxels, rows = g.outChannels * 8
        let tile = min(tileOverride ?? tileVoxels, iv)
        let p = workspace.buffer(slot, count: rows * tile)
        let dyStride = dySampleStride ?? g.outChannels * g.outVoxels
        for n in 0..<g.batch {
            let xs = x + n * g.inChannels * iv, dys = dy + n * dyStride
            var v0 = 0
            while v0 < iv {
                let t = min(tile, iv - v0)
                if ConvCKernels.available {
                    ConvCKernels.transposeGather(dy: dys, p: p, count: t, g: g, v0: v0, threads: threads)
                } else {
                    gatherPortable(dy: dys, p: p, count: t, g: g, v0: v0, threads: threads)
                }
                sgemm(transB: true, m: g.inChannels, n: rows, k: t, a: xs + v0, lda: iv,
                      b: p, ldb: t, beta: 1, c: dw, ldc: rows)
                if let dx {
                    sgemm(m: g.inChannels, n: t, k: rows, a: w, lda: rows, b: p, ldb: t,
                          beta: 0, c: dx + n * g.inChannels * iv + v0, ldc: iv)
                }
                v0 += t
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
}
