/// im2col / col2im over a tile of consecutive output voxels of ONE sample.
///
/// Column matrix layout: [K = Cin·k³ rows, T columns], row r = ((ci·k + kd)·k + kh)·k + kw (the
/// order of PyTorch's weight [Cout, Cin, k, k, k] flattened), column j = output voxel v0 + j in
/// D·H·W raster order. Entries falling in the zero padding are 0.
enum Im2col {
    /// Fills `col` [K, count] from the sample `x` [Cin, D, H, W]. Overwrites `col`.
    static func fill(x: UnsafePointer<Float>, g: Conv3dGeometry, v0: Int, count: Int,
                     col: UnsafeMutablePointer<Float>, threads: Int) {
        let k = g.kernel, k3 = k * k * k
        Parallel.forEach(0..<g.columnRows, threads: threads) { rows in
            for r in rows {
                let ci = r / k3, kd = (r / (k * k)) % k, kh = (r / k) % k, kw = r % k
                forEachSegment(g: g, v0: v0, count: count, kd: kd, kh: kh) { j, ow0, len, srcRow in
                    let dst = col + r * count + j
                    guard let srcRow else {
                        dst.update(repeating: 0, count: len)
                        return
                    }
                    let src = x + ci * g.inVoxels + srcRow
                    let s = g.stride, iw0 = -g.padding + kw
                    if s == 1 {
                        // Contiguous run with zero padding at the ends.
                        var t = 0
                        while t < len {
                            let iw = (ow0 + t) + iw0
                            dst[t] = (iw >= 0 && iw < g.inW) ? src[iw] : 0
                            t += 1
                        }
                    } else {
                        for t in 0..<len {
                            let iw = (ow0 + t) * s + iw0
                            dst[t] = (iw >= 0 && iw < g.inW) ? src[iw] : 0
                        }
                    }
                }
            }
        }
    }

    /// Adds the columns `col` [K, count] back into the sample gradient `dx` [Cin, D, H, W]
    /// (the adjoint of `fill`). Accumulates. Parallel over input channels, which own disjoint
    /// slices of `dx`, so no two workers write the same element.
    static func accumulate(col: UnsafePointer<Float>, g: Conv3dGeometry, v0: Int, count: Int,
                           dx: UnsafeMutablePointer<Float>, threads: Int) {
        let k = g.kernel, k3 = k * k * k
        Parallel.forEach(0..<g.inChannels, threads: threads) { channels in
            for ci in channels {
                for rr in 0..<k3 {
                    let r = ci * k3 + rr
                    let kd = rr / (k * k), kh = (rr / k) % k, kw = rr % k
                    forEachSegment(g: g, v0: v0, count: count, kd: kd, kh: kh) { j, ow0, len, srcRow in
                        guard let srcRow else { return }
                        let src = col + r * count + j
                        let dst = dx + ci * g.inVoxels + srcRow
                        let s = g.stride, iw0 = -g.padding + kw
                        for t in 0..<len {
                            let iw = (ow0 + t) * s + iw0
                            if iw >= 0 && iw < g.inW { dst[iw] += src[t] }
                        }
                    }
                }
            }
        }
    }

    /// Walks the tile [v0, v0+count) as runs along W within one output row (od, oh). For each run
    /// calls body(j = column offset, ow0 = first output w, len, input row offset (id·H + ih)·W or
    /// nil when that input row lies in the padding for tap (kd, kh)).
    @inline(__always)
    static func forEachSegment(g: Conv3dGeometry, v0: Int, count: Int, kd: Int, kh: Int,
                               _ body: (Int, Int, Int, Int?) -> Void) {
        let ow = g.outW, oh = g.outH
        var v = v0, j = 0
        let end = v0 + count
        while v < end {
            let row = v / ow, ow0 = v - row * ow
            let len = min(ow - ow0, end - v)
            let ohi = row % oh, odi = row / oh
            let id = odi * g.stride - g.padding + kd
            let ih = ohi * g.stride - g.padding + kh
            if id >= 0 && id < g.inD && ih >= 0 && ih < g.inH {
                body(j, ow0, len, (id * g.inH + ih) * g.inW)
            } else {
                body(j, ow0, len, nil)
            }
            v += len
            j += len
        }
    }
}
