import CKernels

/// The phase split and merge of `ConvPolyphase`: one sample's input into its 8 parity
/// sub-volumes with a leading zero plane/row/column each, and the phase gradients back into the
/// input gradient (the layout: `ConvPolyphase`'s comment). C with AVX2
/// (`CKernels/conv_polyphase.c`, bit-identical) when available, else the Swift loops here.
extension ConvPolyphase {
    /// The phase split of one sample alone, into its workspace slot (for the phase timings).
    public static func splitSample(_ xs: UnsafePointer<Float>, g: Conv3dGeometry, workspace: Workspace, threads: Int) {
        let l = Layout(g)
        split(xs, g, l, into: workspace.buffer(phaseSlot, count: 8 * g.inChannels * l.volume), threads: threads)
    }

    /// Phases of one sample xs [Cin, D, H, W] → ph [8][Cin][volume], padding and out-of-range
    /// positions zero.
    static func split(_ xs: UnsafePointer<Float>, _ g: Conv3dGeometry, _ l: Layout,
                      into phases: UnsafeMutablePointer<Float>, threads: Int,
                      portable: Bool = !ConvCKernels.available) {
        let cin = g.inChannels, D = g.inD, H = g.inH, W = g.inW
        if !portable {
            let dims = ConvCKernels.dims(g)
            Parallel.forEach(0..<cin, threads: threads) { r in
                dro_polyphase_split_avx2(xs, dims, cin, phases, r.lowerBound, r.upperBound)
            }
            return
        }
        Parallel.forEach(0..<(8 * cin), threads: threads) { r in
            for pc in r {
                let p = pc / cin, ci = pc % cin
                let a = p >> 2, b = (p >> 1) & 1, c = p & 1
                let dst = phases + pc * l.volume, src = xs + ci * D * H * W
                for i in 0..<l.pd {
                    let id = 2 * (i - 1) + a
                    for j in 0..<l.ph {
                        let row = dst + (i * l.ph + j) * l.pw
                        let ih = 2 * (j - 1) + b
                        guard i > 0, j > 0, id < D, ih < H else { row.update(repeating: 0, count: l.pw); continue }
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

    /// dxs [Cin, D, H, W] (=, or += when accumulating) from the phase gradients (padding dropped).
    static func merge(_ phases: UnsafePointer<Float>, _ g: Conv3dGeometry, _ l: Layout,
                      into dxs: UnsafeMutablePointer<Float>, accumulate: Bool, threads: Int,
                      portable: Bool = !ConvCKernels.available) {
        let cin = g.inChannels, D = g.inD, H = g.inH, W = g.inW
        if !portable {
            let dims = ConvCKernels.dims(g)
            Parallel.forEach(0..<cin, threads: threads) { r in
                dro_polyphase_merge_avx2(phases, dims, cin, dxs, accumulate ? 1 : 0, r.lowerBound, r.upperBound)
            }
            return
        }
        Parallel.forEach(0..<(cin * D), threads: threads) { r in
            for cd in r {
                let ci = cd / D, id = cd % D
                let a = id & 1, i = id / 2 + 1
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
