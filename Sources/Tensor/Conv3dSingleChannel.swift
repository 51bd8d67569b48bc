/// Direct SIMD 3×3×3 convolution of a single-channel input, stride 1, padding 1: the U-Net's
/// first layer. With Cin = 1 the im2col GEMM has K = 27, far too thin for OpenBLAS (measured at
/// 9–14 % of the sgemm peak), and the im2col matrix is 27× the input; here each output row
/// (n, d, h) reads the 9 zero-padded input rows it needs once and keeps them in L1.
///
/// Forward: y[n, co, d, h, w] = bias[co] + Σ_{kd,kh,kw} w[co, kd, kh, kw] · x[n, d+kd−1, h+kh−1, w+kw−1].
/// Weight gradient: dw[co, kd, kh, kw] += Σ_{n,d,h,w} dy[n, co, d, h, w] · x[n, d+kd−1, h+kh−1, w+kw−1],
/// summed in Float along one row (≤ W terms) and in Double across rows.
/// The input gradient is not provided: the network's input image needs none (`Conv3d.backward`
/// falls back to im2col when a caller asks for it).
enum Conv3dSingleChannel {
    typealias Vector = SIMD8<Float>
    static let lanes = Vector.scalarCount
    /// Output channels computed together: each loaded input vector feeds this many accumulators.
    static let channelBlock = 4
    static let taps = 27

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

    /// Stores the first `valid` lanes of `a` at dst.
    @inline(__always)
    static func store(_ a: Vector, to dst: UnsafeMutablePointer<Float>, valid: Int) {
        if valid == lanes {
            UnsafeMutableRawPointer(dst).storeBytes(of: a, as: Vector.self)
        } else {
            for l in 0..<valid { dst[l] = a[l] }
        }
    }

    /// Splits rows 0..<count over `threads` workers; body(worker, rows).
    static func forEachWorker(rows count: Int, threads: Int, _ body: (Int, Range<Int>) -> Void) {
        let workers = max(1, min(threads, count))
        Parallel.forEach(0..<workers, threads: workers) { ks in
            for k in ks { body(k, (count * k / workers)..<(count * (k + 1) / workers)) }
        }
    }

    /// x [N, 1, D, H, W], w [Cout, 1, 3, 3, 3], bias [Cout] or nil → y [N, Cout, D, H, W]. Overwrites y.
    static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, g: Conv3dGeometry, threads: Int) {
        let cout = g.outChannels, width = g.inW, plane = g.inH * g.inW, v = g.inVoxels
        let stride = rowStride(g), nChunks = chunks(g)
        forEachWorker(rows: g.batch * g.inD * g.inH, threads: threads) { _, range in
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: 9 * stride)
            defer { rows.deallocate() }
            for row in range {
                let n = row / (g.inD * g.inH), d = (row / g.inH) % g.inD, h = row % g.inH
                loadRows(sample: x + n * v, g: g, d: d, h: h, rows: rows, stride: stride)
                let yRow = y + n * cout * v + d * plane + h * width
                var co0 = 0
                while co0 < cout {
                    // Channels past Cout repeat the last one and are not stored.
                    let c0 = co0, c1 = min(co0 + 1, cout - 1), c2 = min(co0 + 2, cout - 1), c3 = min(co0 + 3, cout - 1)
                    let w0 = w + c0 * taps, w1 = w + c1 * taps, w2 = w + c2 * taps, w3 = w + c3 * taps
                    for c in 0..<nChunks {
                        var a0 = Vector(repeating: bias?[c0] ?? 0), a1 = Vector(repeating: bias?[c1] ?? 0)
                        var a2 = Vector(repeating: bias?[c2] ?? 0), a3 = Vector(repeating: bias?[c3] ?? 0)
                        for kdh in 0..<9 {
                            let r = rows + kdh * stride + c * lanes
                            for kw in 0..<3 {
                                let s = load(r + kw), t = kdh * 3 + kw
                                a0 += w0[t] * s; a1 += w1[t] * s; a2 += w2[t] * s; a3 += w3[t] * s
                            }
                        }
                        let wBase = c * lanes, valid = min(lanes, width - wBase)
                        let out = yRow + co0 * v + wBase
                        store(a0, to: out, valid: valid)
                        if co0 + 1 < cout { store(a1, to: out + v, valid: valid) }
                        if co0 + 2 < cout { store(a2, to: out + 2 * v, valid: valid) }
                        if co0 + 3 < cout { store(a3, to: out + 3 * v, valid: valid) }
                    }
                    co0 += channelBlock
                }
            }
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
            defer { rows.deallocate() }
            let acc = partial + k * cout * taps
            for row in range {
                let n = row / (g.inD * g.inH), d = (row / g.inH) % g.inD, h = row % g.inH
                loadRows(sample: x + n * v, g: g, d: d, h: h, rows: rows, stride: stride)
                for co in 0..<cout {
                    let gRow = dy + (n * cout + co) * v + d * plane + h * width
                    for kdh in 0..<9 {
                        let r = rows + kdh * stride
                        var s0 = Vector(), s1 = Vector(), s2 = Vector()
                        for c in 0..<full {
                            let gv = load(gRow + c * lanes), base = r + c * lanes
                            s0 += gv * load(base); s1 += gv * load(base + 1); s2 += gv * load(base + 2)
                        }
                        var t0 = s0.sum(), t1 = s1.sum(), t2 = s2.sum()
                        for wi in (full * lanes)..<width {
                            t0 += gRow[wi] * r[wi]; t1 += gRow[wi] * r[wi + 1]; t2 += gRow[wi] * r[wi + 2]
                        }
                        let a = acc + co * taps + kdh * 3
                        a[0] += Double(t0); a[1] += Double(t1); a[2] += Double(t2)
                    }
                }
            }
        }
        for i in 0..<(cout * taps) {
            var s = 0.0
            for k in 0..<workers { s += partial[k * cout * taps + i] }
            dw[i] += Float(s)
        }
    }
}
