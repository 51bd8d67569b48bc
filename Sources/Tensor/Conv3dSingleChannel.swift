/// Weight gradient of a 3×3×3, stride-1, padding-1 convolution of a single-channel input (the
/// U-Net's first layer), computed directly with SIMD. With Cin = 1 the im2col GEMM for it is
/// dW [Cout, 27] += dY [Cout, T] · colᵀ [T, 27]: M = Cout, N = 27, far too small for OpenBLAS
/// (a small fraction of its sgemm peak: docs/performance.md, "Measurements behind constants in
/// the code"), on top of a 27-row im2col pass. Here each row (n, d, h) of dY reads the 9
/// zero-padded input rows it needs, kept in L1.
///
/// dw[co, kd, kh, kw] += Σ_{n,d,h,w} dy[n, co, d, h, w] · x[n, d+kd−1, h+kh−1, w+kw−1],
/// summed per SIMD lane in Float over ≤ `flushRows` rows and in Double beyond.
///
/// This Swift kernel is the fallback for CPUs without AVX2 + FMA (and the oracle): with them the
/// weight gradient and the forward run in C (`ConvCKernels`, `CKernels/conv_single_channel.c`).
/// Without them the forward stays on im2col + sgemm: a direct 8-lane Swift kernel was slower than
/// OpenBLAS's AVX2 GEMM (Swift here is compiled for baseline x86-64, i.e. SSE). The input
/// gradient is not provided: the network's input image needs none (`Conv3d.backward` uses
/// im2col when a caller asks for it).
enum Conv3dSingleChannel {
    typealias Vector = SIMD8<Float>
    static let lanes = Vector.scalarCount
    static let taps = 27
    /// Rows whose products are summed per lane in Float before going to Double: each lane then
    /// holds ≤ 16 · W / 8 terms (128 at W = 64), keeping Float rounding ≲ 1e-5 relative.
    static let flushRows = 16

    static func applies(_ g: Conv3dGeometry) -> Bool {
        g.inChannels == 1 && g.kernel == 3 && g.stride == 1 && g.padding == 1
    }

    /// Floats per padded row: element 1 + w holds x[.., w]; zeros at 0 and from W + 1 up to the
    /// end of the last full vector read (chunk c reads elements c·lanes + kw ..< c·lanes + kw + lanes).
    static func rowStride(_ g: Conv3dGeometry) -> Int { chunks(g) * lanes + 2 }
    static func chunks(_ g: Conv3dGeometry) -> Int { (g.inW + lanes - 1) / lanes }

    /// rows[(kd·3 + kh)·stride + 1 + w] = x[d + kd − 1, h + kh − 1, w] (0 outside the volume).
    @inline(__always)
    static func loadRows(sample x: UnsafePointer<Float>, g: Conv3dGeometry, d: Int, h: Int,
                         rows: UnsafeMutablePointer<Float>, stride: Int) {
        for kd in 0..<3 {
            for kh in 0..<3 {
                let r = rows + (kd * 3 + kh) * stride
                let id = d + kd - 1, ih = h + kh - 1
                if id < 0 || id >= g.inD || ih < 0 || ih >= g.inH {
                    r.update(repeating: 0, count: stride)
                } else {
                    r[0] = 0
                    (r + 1).update(from: x + (id * g.inH + ih) * g.inW, count: g.inW)
                    (r + 1 + g.inW).update(repeating: 0, count: stride - 1 - g.inW)
                }
            }
        }
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Vector { UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }

    /// Splits rows 0..<count over `threads` workers; body(worker, rows).
    static func forEachWorker(rows count: Int, threads: Int, _ body: (Int, Range<Int>) -> Void) {
        let workers = max(1, min(threads, count))
        Parallel.forEach(0..<workers, threads: workers) { ks in
            for k in ks { body(k, (count * k / workers)..<(count * (k + 1) / workers)) }
        }
    }

    /// dw [Cout, 1, 3, 3, 3] += the weight gradient for x [N, 1, D, H, W] and dy [N, Cout, D, H, W].
    static func accumulateWeightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                         dw: UnsafeMutablePointer<Float>, g: Conv3dGeometry, threads: Int) {
        let cout = g.outChannels, width = g.inW, plane = g.inH * g.inW, v = g.inVoxels
        let stride = rowStride(g), full = width / lanes
        let rowCount = g.batch * g.inD * g.inH
        let workers = max(1, min(threads, rowCount))
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: workers * cout * taps)
        partial.initialize(repeating: 0, count: workers * cout * taps)
        defer { partial.deallocate() }
        forEachWorker(rows: rowCount, threads: workers) { k, range in
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: 9 * stride)
            // Per-lane Float sums over up to `flushRows` rows, then added to the Double totals.
            let lanesAcc = UnsafeMutablePointer<Vector>.allocate(capacity: cout * taps)
            lanesAcc.initialize(repeating: Vector(), count: cout * taps)
            defer { rows.deallocate(); lanesAcc.deallocate() }
            let acc = partial + k * cout * taps
            func flush() {
                for i in 0..<(cout * taps) { acc[i] += Double(lanesAcc[i].sum()); lanesAcc[i] = Vector() }
            }
            for (i, row) in range.enumerated() {
                let n = row / (g.inD * g.inH), d = (row / g.inH) % g.inD, h = row % g.inH
                loadRows(sample: x + n * v, g: g, d: d, h: h, rows: rows, stride: stride)
                for co in 0..<cout {
                    let gRow = dy + (n * cout + co) * v + d * plane + h * width
                    for kdh in 0..<9 {
                        let r = rows + kdh * stride
                        let la = lanesAcc + co * taps + kdh * 3
                        var s0 = la[0], s1 = la[1], s2 = la[2]
                        for c in 0..<full {
                            let gv = load(gRow + c * lanes), base = r + c * lanes
                            s0 += gv * load(base); s1 += gv * load(base + 1); s2 += gv * load(base + 2)
                        }
                        la[0] = s0; la[1] = s1; la[2] = s2
                        if full * lanes < width {
                            var t0: Float = 0, t1: Float = 0, t2: Float = 0
                            for wi in (full * lanes)..<width {
                                t0 += gRow[wi] * r[wi]; t1 += gRow[wi] * r[wi + 1]; t2 += gRow[wi] * r[wi + 2]
                            }
                            let a = acc + co * taps + kdh * 3
                            a[0] += Double(t0); a[1] += Double(t1); a[2] += Double(t2)
                        }
                    }
                }
                if (i + 1) % flushRows == 0 { flush() }
            }
            flush()
        }
        for i in 0..<(cout * taps) {
            var s = 0.0
            for k in 0..<workers { s += partial[k * cout * taps + i] }
            dw[i] += Float(s)
        }
    }
}
