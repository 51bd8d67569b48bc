/// im2col / col2im over a tile of consecutive output voxels of ONE sample.
///
/// Column matrix layout: [K = Cin·kD·kH·kW rows, T columns], row r = ((ci·kD + kd)·kH + kh)·kW + kw
/// (the order of PyTorch's weight [Cout, Cin, kD, kH, kW] flattened), column j = output voxel
/// v0 + j in D·H·W raster order. Entries falling in the zero padding are 0. Kernel, stride and
/// padding may differ per axis (the portable paths); the AVX2 kernels serve 3×3×3 stride 2.
/// Public for dro-bench's phase profile (`dro-bench unet --conv-phases`).
public enum Im2col {
    /// Fills `col` [K, count] from the sample `x` [Cin, D, H, W]. Overwrites `col`. Stride-2
    /// 3×3×3 layers go to the AVX2 kernel (`ConvCKernels`, same values) when the CPU has it.
    public static func fill(x: UnsafePointer<Float>, g: Conv3dGeometry, v0: Int, count: Int,
                     col: UnsafeMutablePointer<Float>, threads: Int) {
        if ConvCKernels.available && ConvCKernels.appliesStride2(g) {
            ConvCKernels.im2colStride2(x: x, g: g, v0: v0, count: count, col: col, threads: threads)
        } else {
            fillPortable(x: x, g: g, v0: v0, count: count, col: col, threads: threads)
        }
    }

    /// `fill` in Swift for every geometry (the fallback and the C kernel's oracle).
    static func fillPortable(x: UnsafePointer<Float>, g: Conv3dGeometry, v0: Int, count: Int,
                             col: UnsafeMutablePointer<Float>, threads: Int) {
        let kH = g.kernelH, kW = g.kernelW, taps = g.kernelVolume
        Parallel.forEach(0..<g.columnRows, threads: threads) { rows in
            for r in rows {
                let ci = r / taps, rr = r - ci * taps
                let kd = rr / (kH * kW), kh = (rr / kW) % kH, kw = rr % kW
                forEachSegment(g: g, v0: v0, count: count, kd: kd, kh: kh) { j, ow0, len, srcRow in
                    let dst = col + r * count + j
                    guard let srcRow else {
                        dst.update(repeating: 0, count: len)
                        return
                    }
                    let src = x + ci * g.inVoxels + srcRow
                    let (lo, hi) = validRange(g: g, kw: kw, ow0: ow0, len: len)
                    if lo > 0 { dst.update(repeating: 0, count: lo) }
                    if hi < len { (dst + hi).update(repeating: 0, count: len - hi) }
                    guard lo < hi else { return }
                    // Input w of output w (ow0 + t): (ow0 + t)·s − p + kw, inside [0, inW) for t in lo..<hi.
                    let first = src + ((ow0 + lo) * g.strideW - g.paddingW + kw)
                    if g.strideW == 1 {
                        (dst + lo).update(from: first, count: hi - lo)
                    } else {
                        let s = g.strideW, d = dst + lo
                        for t in 0..<(hi - lo) { d[t] = first[t * s] }
                    }
                }
            }
        }
    }

    /// Adds the columns `col` [K, count] back into the sample gradient `dx` [Cin, D, H, W]
    /// (the adjoint of `fill`). Accumulates. Parallel over input channels, which own disjoint
    /// slices of `dx`, so no two workers write the same element.
    public static func accumulate(col: UnsafePointer<Float>, g: Conv3dGeometry, v0: Int, count: Int,
                           dx: UnsafeMutablePointer<Float>, threads: Int) {
        if ConvCKernels.available && ConvCKernels.appliesStride2(g) {
            ConvCKernels.col2imStride2(col: col, g: g, v0: v0, count: count, dx: dx, threads: threads)
        } else {
            accumulatePortable(col: col, g: g, v0: v0, count: count, dx: dx, threads: threads)
        }
    }

    /// `accumulate` in Swift for every geometry (the fallback and the C kernel's oracle).
    static func accumulatePortable(col: UnsafePointer<Float>, g: Conv3dGeometry, v0: Int, count: Int,
                                   dx: UnsafeMutablePointer<Float>, threads: Int) {
        let kH = g.kernelH, kW = g.kernelW, taps = g.kernelVolume
        Parallel.forEach(0..<g.inChannels, threads: threads) { channels in
            for ci in channels {
                for rr in 0..<taps {
                    let r = ci * taps + rr
                    let kd = rr / (kH * kW), kh = (rr / kW) % kH, kw = rr % kW
                    forEachSegment(g: g, v0: v0, count: count, kd: kd, kh: kh) { j, ow0, len, srcRow in
                        guard let srcRow else { return }
                        let src = col + r * count + j
                        let (lo, hi) = validRange(g: g, kw: kw, ow0: ow0, len: len)
                        guard lo < hi else { return }
                        let dst = dx + (ci * g.inVoxels + srcRow + (ow0 + lo) * g.strideW - g.paddingW + kw)
                        let s = g.strideW, from = src + lo
                        if s == 1 {
                            for t in 0..<(hi - lo) { dst[t] += from[t] }
                        } else {
                            for t in 0..<(hi - lo) { dst[t * s] += from[t] }
                        }
                    }
                }
            }
        }
    }

    /// For the run of outputs ow0..<ow0+len along W and tap kw: the sub-range lo..<hi of t whose
    /// input w = (ow0 + t)·stride − padding + kw lies inside [0, inW); outside it the tap reads
    /// zero padding. Lets the inner loops run without per-element bounds tests.
    @inline(__always)
    static func validRange(g: Conv3dGeometry, kw: Int, ow0: Int, len: Int) -> (Int, Int) {
        let s = g.strideW, off = kw - g.paddingW
        // Smallest ow with ow·s + off ≥ 0, and one past the largest with ow·s + off ≤ inW − 1.
        let owLo = off >= 0 ? 0 : (-off + s - 1) / s
        let owHi = g.inW - off <= 0 ? 0 : (g.inW - off + s - 1) / s
        let lo = min(len, max(0, owLo - ow0)), hi = max(lo, min(len, owHi - ow0))
        return (lo, hi)
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
            let id = odi * g.strideD - g.paddingD + kd
            let ih = ohi * g.strideH - g.paddingH + kh
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
