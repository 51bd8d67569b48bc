/// Transposed 3D convolution, kernel 2, stride 2 (the U-Net's upsampling), as GEMM + scatter.
///
/// Per sample, per tile of T input voxels: P [Cout·8, T] = Wᵀ · X[:, tile] with W viewed as
/// [Cin, Cout·8]; row co·8 + t of P goes to output voxel 2·i + t. No overlap between taps, so the
/// scatter is a permutation and the backward gather is exact.
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
                Parallel.forEach(0..<g.outChannels, threads: threads) { cs in
                    for co in cs {
                        let b = bias?[co] ?? 0
                        let yc = ys + co * g.outVoxels
                        for tap in 0..<8 {
                            let src = p + (co * 8 + tap) * t
                            visit(g: g, v0: v0, count: t, tap: tap) { j, o in yc[o] = src[j] + b }
                        }
                    }
                }
                v0 += t
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
                Parallel.forEach(0..<g.outChannels, threads: threads) { cs in
                    for co in cs {
                        let yc = dys + co * g.outVoxels
                        for tap in 0..<8 {
                            let dst = p + (co * 8 + tap) * t
                            visit(g: g, v0: v0, count: t, tap: tap) { j, o in dst[j] = yc[o] }
                        }
                    }
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

    /// For input voxels v0..<v0+count, calls body(j, output voxel index) for tap (a, b, c) = tap bits.
    @inline(__always)
    static func visit(g: ConvTranspose3dGeometry, v0: Int, count: Int, tap: Int, _ body: (Int, Int) -> Void) {
        let a = tap >> 2, b = (tap >> 1) & 1, c = tap & 1
        let ow = g.outW, ohw = g.outH * g.outW
        var v = v0, j = 0
        let end = v0 + count
        while v < end {
            let row = v / g.inW, w0 = v - row * g.inW
            let len = min(g.inW - w0, end - v)
            let h = row % g.inH, d = row / g.inH
            let base = (2 * d + a) * ohw + (2 * h + b) * ow + c
            for t in 0..<len { body(j + t, base + 2 * (w0 + t)) }
            v += len
            j += len
        }
    }
}
