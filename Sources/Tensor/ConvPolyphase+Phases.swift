import CKernels

/// The phase split and merge of `ConvPolyphase`: one sample's input into its 8 parity
/// sub-volumes with a leading zero plane/row/column each, and the phase gradients back into the
/// input gradient (the layout: `ConvPolyphase`'s comment). C with AVX2
/// (`CKernels/conv_polyphase.c`, bit-identical) when available, else the Swift loops here.
extension ConvPolyphase {
    /// The phase split of one sample alone, slab by slab (`slabPlanes` output planes each; nil:
    /// the whole sample at once), into its workspace slot (for the phase timings).
    public static func splitSample(_ xs: UnsafePointer<Float>, g: Conv3dGeometry, workspace: Workspace,
                                   slabPlanes slab: Int? = nil, threads: Int) {
        let s = min(slab ?? g.outD, g.outD)
        let phases = workspace.buffer(phaseSlot, count: 8 * g.inChannels * Layout(g, planes: 0..<s).volume)
        for planes in slabs(g, planes: s) { split(xs, g, Layout(g, planes: planes), into: phases, threads: threads) }
    }

    /// The C kernels' dims for slab l: the convolution's, with outD = the slab's output planes.
    static func slabDims(_ g: Conv3dGeometry, _ l: Layout) -> dro_conv_dims {
        var d = ConvCKernels.dims(g)
        d.outD = l.outD
        return d
    }

    /// Phases of one sample xs [Cin, D, H, W] → ph [8][Cin][volume], padding and out-of-range
    /// positions zero; for a slab l, the padded planes l.firstPlane ... l.firstPlane + l.outD.
    static func split(_ xs: UnsafePointer<Float>, _ g: Conv3dGeometry, _ l: Layout,
                      into phases: UnsafeMutablePointer<Float>, threads: Int,
                      portable: Bool = !ConvCKernels.available) {
        let cin = g.inChannels, D = g.inD, H = g.inH, W = g.inW
        if !portable {
            let dims = slabDims(g, l)
            Parallel.forEach(0..<cin, threads: threads) { r in
                dro_polyphase_split_avx2(xs, dims, cin, phases, l.firstPlane, r.lowerBound, r.upperBound)
            }
            return
        }
        Parallel.forEach(0..<(8 * cin), threads: threads) { r in
            for pc in r {
                let p = pc / cin, ci = pc % cin
                let a = p >> 2, b = (p >> 1) & 1, c = p & 1
                let dst = phases + pc * l.volume, src = xs + ci * D * H * W
                for i in 0..<l.pd {
                    let id = 2 * (i + l.firstPlane - 1) + a
                    for j in 0..<l.ph {
                        let row = dst + (i * l.ph + j) * l.pw
                        let ih = 2 * (j - 1) + b
                        guard i + l.firstPlane > 0, j > 0, id < D, ih < H else { row.update(repeating: 0, count: l.pw); continue }
                        let s = src + (id * H + ih) * W + c
                        row[0] = 0
                        let n = min(l.pw - 1, (W - c + 1) / 2)  // inputs c, c + 2, … < W
                        for k in 0..<n { row[1 + k] = s[2 * k] }
                        if 1 + n < l.pw { (row + 1 + n).update(repeating: 0, count: l.pw - 1 - n) }
                    }
                }
            }
        }
    }

    /// dxs [Cin, D, H, W] (=, or += when accumulating) from the phase gradients (padding dropped):
    /// for a slab l, the phase planes 1 ... l.outD, i.e. the dx planes 2·l.firstPlane ..<
    /// 2·(l.firstPlane + l.outD) (the whole volume for the whole sample).
    static func merge(_ phases: UnsafePointer<Float>, _ g: Conv3dGeometry, _ l: Layout,
                      into dxs: UnsafeMutablePointer<Float>, accumulate: Bool, threads: Int,
                      portable: Bool = !ConvCKernels.available) {
        let cin = g.inChannels, D = g.inD, H = g.inH, W = g.inW
        if !portable {
            let dims = slabDims(g, l)
            Parallel.forEach(0..<cin, threads: threads) { r in
                dro_polyphase_merge_avx2(phases, dims, cin, l.firstPlane, dxs, accumulate ? 1 : 0, r.lowerBound,
                                         r.upperBound)
            }
            return
        }
        let id0 = 2 * l.firstPlane, planes = min(D, 2 * (l.firstPlane + l.outD)) - id0
        Parallel.forEach(0..<(cin * planes), threads: threads) { r in
            for cd in r {
                let ci = cd / planes, id = id0 + cd % planes
                let a = id & 1, i = id / 2 + 1 - l.firstPlane
                for ih in 0..<H {
                    let b = ih & 1, j = ih / 2 + 1
                    let dst = dxs + ((ci * D + id) * H + ih) * W
                    let even = phases + ((4 * a + 2 * b) * cin + ci) * l.volume + (i * l.ph + j) * l.pw + 1
                    let odd = even + cin * l.volume
                    let half = W / 2
                    if accumulate {
                        for k in 0..<half { dst[2 * k] += even[k]; dst[2 * k + 1] += odd[k] }
                        if W & 1 == 1 { dst[W - 1] += even[half] }
                    } else {
                        for k in 0..<half { dst[2 * k] = even[k]; dst[2 * k + 1] = odd[k] }
                        if W & 1 == 1 { dst[W - 1] = even[half] }
                    }
                }
            }
        }
    }
}
