#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CKernels

/// The polyphase stride-2 convolution's products with the direct AVX-512 kernels of
/// `CKernels/conv_polyphase_avx512.c` instead of 14 OpenBLAS GEMMs per tile.
///
/// After the phase split every one of the 27 taps reads a contiguous row of one phase at a fixed
/// shift of the extended column index (see `ConvPolyphase`), so each product is one GEMM whose B
/// rows are pointers into the phases, read in place:
/// - forward: ct[co, e] = Σ_(tap, ci) w[co, ci, tap] · phase_tap[ci][e + shift_tap] (K = 27·Cin),
///   then the crop (+ bias) as before;
/// - input gradient, per phase p: dphase_p[ci][q] = Σ_(tap of p, co) w[co, ci, tap] ·
///   dyext[co][q − shift_tap] (K = taps·Cout), with dy held once per slab in the extended
///   layout behind `pad` leading zeros, so every column of the phase is written (no zeroing,
///   no read-back of C), then the merge as before;
/// - weight gradient: dw[co, ci, tap] += Σ_e dyt[e][co] · phase_tap[ci][e + shift_tap] over the
///   slab's extended columns, with dy transposed once per slab to [column][Cout] (zeros in the
///   discarded columns): the output channels sit in the kernel's vector lanes and every phase
///   entry is broadcast (`dro_polyphase_dw_avx512`; no lane reductions, each phase row read once
///   per 64 output channels).
/// Runs when the CPU has AVX-512 (and `DRO_PORTABLE_KERNELS=1` is not set) unless
/// `DRO_STRIDE2=polyphase-sgemm`; the OpenBLAS path stays the fallback.
extension ConvPolyphase {
    /// Which products `forward` / `backward` run.
    public enum Kernel: String, Sendable { case direct, sgemm }

    /// The automatic kernel for g: `.direct` on an AVX-512 CPU for layers of at most
    /// `directMaximumOutChannels` output channels, unless `DRO_STRIDE2=polyphase-sgemm`.
    public static func automaticKernel(_ g: Conv3dGeometry) -> Kernel {
        CPUFeatures.avx512 && choice != .polyphaseSgemm && g.outChannels <= directMaximumOutChannels ? .direct : .sgemm
    }
    /// Measured 2026-12-03 (thread CPU time, one thread, `dro-bench unet --conv-phases`;
    /// docs/performance.md, "2026-12-03 (later)"): against the 14 GEMMs the direct products take
    /// 0.70× (forward) and 0.73× (backward) on the 16 → 32 layer at 64³, level (forward) and
    /// 1.1× (backward) on 32 → 64 at 32³, 1.1–1.35× and 1.6× on 64 → 128 at 16³. With the
    /// weight gradient's output channels in the lanes ("2026-12-03 (evening)"), the 32 → 64 layer
    /// in the training step: forward 0.87× the GEMMs', backward level, so the bound is 64; the
    /// 64 → 128 layer (im2col by `isProfitable`) still loses with either product.
    public static let directMaximumOutChannels = 64

    /// Name for profiles: "polyphase-avx512" or "polyphase+sgemm".
    public static func kernelName(_ g: Conv3dGeometry) -> String {
        automaticKernel(g) == .direct ? "polyphase-avx512" : "polyphase+sgemm"
    }

    /// Slot of the extended output gradient of one slab (beside slots 6–10; the sgemm path uses it too).
    static let extendedGradientSlot = 11
    /// Slot of the same gradient transposed, [extended column][Cout] (the weight-gradient kernel's A).
    static let transposedGradientSlot = 12
    /// Column block of the forward / input-gradient kernel (its register block is 48 columns).
    static let directColumnBlock = 48

    /// Whether the forward's products prefetch the B lines (the phases' rows) of their next column
    /// block / K chunk (`dro_polyphase_rows_gemm_prefetch_avx512`, same results bit for bit);
    /// `DRO_STRIDE2_PREFETCH=off` runs the kernel without the prefetches. (The input gradient runs
    /// without them.) Measured on the fetal enc1.0 (32 → 64, 96³), thread CPU time in the training
    /// step: forward 0.91–0.94× (3 alternating pairs; docs/performance.md, "Stride-2 layers: …").
    public static let directPrefetch: Bool = {
        guard let v = getenv("DRO_STRIDE2_PREFETCH") else { return true }
        return String(cString: v) != "off"
    }()

    /// C[i, n] = Σ_p A[p, i]·rows[p][n] for n in [n0, n1) (`dro_polyphase_rows_gemm_avx512`, with the
    /// prefetches when `prefetch`).
    static func rowsGemm(_ m: Int, _ k: Int, _ a: UnsafePointer<Float>, _ rows: UnsafePointer<UnsafePointer<Float>?>,
                         _ n0: Int, _ n1: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, prefetch: Bool = directPrefetch) {
        if prefetch {
            dro_polyphase_rows_gemm_prefetch_avx512(m, k, a, rows, n0, n1, c, ldc)
        } else {
            dro_polyphase_rows_gemm_avx512(m, k, a, rows, n0, n1, c, ldc)
        }
    }

    /// Tap t = kd·9 + kh·3 + kw, its phase and its shift in the extended layout.
    struct Tap { let index: Int, phase: Int, sd: Int, sh: Int, sw: Int }
    /// The 27 taps ordered by phase (taps of one phase adjacent).
    static let taps: [Tap] = (0..<27).map { t -> Tap in
        let k = [t / 9, (t / 3) % 3, t % 3]
        let par = k.map { $0 == 1 ? 0 : 1 }, s = k.map { $0 == 0 ? 0 : 1 }
        return Tap(index: t, phase: 4 * par[0] + 2 * par[1] + par[2], sd: s[0], sh: s[1], sw: s[2])
    }.sorted { ($0.phase, $0.index) < ($1.phase, $1.index) }
    /// Index range in `taps` of each phase's taps.
    static let phaseTaps: [Range<Int>] = (0..<8).map { p in
        let first = taps.firstIndex { $0.phase == p }!, last = taps.lastIndex { $0.phase == p }!
        return first..<(last + 1)
    }

    /// Floats of an A packed for `dro_polyphase_rows_gemm_avx512` (m rounded up to blocks of 8).
    static func packedCount(m: Int, k: Int) -> Int { (m + 7) / 8 * 8 * k }

    /// a[8·b·k + p·8 + r] = value(p, 8b + r) (0 for rows past m).
    static func packBlocks(m: Int, k: Int, into a: UnsafeMutablePointer<Float>, _ value: (Int, Int) -> Float) {
        for b in 0..<((m + 7) / 8) {
            let blk = a + 8 * b * k
            for p in 0..<k {
                for r in 0..<8 {
                    let i = 8 * b + r
                    blk[p * 8 + r] = i < m ? value(p, i) : 0
                }
            }
        }
    }

    /// Row pointers of the 27·Cin (tap, ci) rows of the phases, in `taps` order, at their shifts.
    static func phaseRows(_ phases: UnsafePointer<Float>, cin: Int, _ l: Layout,
                          into rows: UnsafeMutablePointer<UnsafePointer<Float>?>) {
        for (i, tp) in taps.enumerated() {
            for ci in 0..<cin {
                rows[i * cin + ci] = phases + (tp.phase * cin + ci) * l.volume + l.shift(tp.sd, tp.sh, tp.sw)
            }
        }
    }

    static func forwardDirect(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              y: UnsafeMutablePointer<Float>, g: Conv3dGeometry, workspace: Workspace,
                              tile: Int, slab: Int, threads: Int) {
        let full = Layout(g, planes: 0..<min(slab, g.outD)), cin = g.inChannels, cout = g.outChannels, k = 27 * cin
        let phases = workspace.buffer(phaseSlot, count: 8 * cin * full.volume)
        let ct = workspace.buffer(tileSlot, count: cout * tile)
        let a = workspace.buffer(packedSlot, count: packedCount(m: cout, k: k))
        packBlocks(m: cout, k: k, into: a) { p, co in w[(co * cin + p % cin) * 27 + taps[p / cin].index] }
        let rows = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: k)
        defer { rows.deallocate() }
        let ov = g.outVoxels, nb = directColumnBlock
        for n in 0..<g.batch {
            for planes in slabs(g, planes: slab) {
                let l = Layout(g, planes: planes)
                phaseRows(phases, cin: cin, l, into: rows)
                split(x + n * cin * g.inVoxels, g, l, into: phases, threads: threads)
                let ys = y + n * cout * ov + l.outputOffset
                var e0 = 0
                while e0 < l.columns {
                    let t = min(tile, l.columns - e0)
                    Parallel.forEach(0..<((t + nb - 1) / nb), threads: threads) { r in
                        let n0 = e0 + r.lowerBound * nb, n1 = min(e0 + t, e0 + r.upperBound * nb)
                        rowsGemm(cout, k, a, rows, n0, n1, ct + (n0 - e0), t)
                    }
                    crop(ct, columns: e0..<(e0 + t), l, bias: bias, into: ys, channels: cout, threads: threads)
                    e0 += t
                }
            }
        }
    }

    /// B rows per work item of the weight-gradient kernel: its register block (24 accumulators
    /// over ⌈min(Cout, 64)/16⌉ vectors of output channels).
    static func directWeightGradientRows(_ cout: Int) -> Int {
        switch (min(cout, 64) + 15) / 16 { case 4: return 6; case 3: return 8; case 2: return 12; default: return 24 }
    }

    /// dyt[e·Cout + co] = dy[co, e] for the extended columns e < l.columns of one sample's slab l
    /// (dys: its first output plane), 0 in the discarded ones (the transpose of `extend`). Blocks of output rows whose transposed columns
    /// fit in ~24 KiB (L1) are filled one channel at a time, so each channel's rows of the block are
    /// read as one contiguous run (reading all channels row by row — Cout short streams at once —
    /// stalled on every dy line: perf put ~¼ of the weight-gradient kernel's time into that loop).
    static func transposeExtended(_ dys: UnsafePointer<Float>, _ l: Layout, into dyt: UnsafeMutablePointer<Float>,
                                  channels cout: Int, threads: Int) {
        let ov = l.channelStride, rowsPerBlock = max(1, 6144 / (l.pw * cout))
        Parallel.forEach(0..<l.outD, threads: threads) { r in
            for od in r {
                let e0 = od * l.ph * l.pw
                // Discarded columns: the row oh = outH and the column ow = outW of every row.
                for oh in 0..<l.ph {
                    let erow = e0 + oh * l.pw
                    if erow >= l.columns { break }
                    if oh == l.outH {
                        (dyt + erow * cout).update(repeating: 0, count: min(l.pw, l.columns - erow) * cout)
                    } else if erow + l.outW < l.columns {
                        (dyt + (erow + l.outW) * cout).update(repeating: 0, count: cout)
                    }
                }
                var oh0 = 0
                while oh0 < l.outH {
                    let oh1 = min(l.outH, oh0 + rowsPerBlock)
                    for co in 0..<cout {
                        let src = dys + co * ov + od * l.outH * l.outW
                        for oh in oh0..<oh1 {
                            let erow = e0 + oh * l.pw
                            if erow >= l.columns { break }
                            let valid = min(l.outW, l.columns - erow), s = src + oh * l.outW, d = dyt + erow * cout + co
                            for ow in 0..<valid { d[ow * cout] = s[ow] }
                        }
                    }
                    oh0 = oh1
                }
            }
        }
    }

    static func backwardDirect(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                               dbias: UnsafeMutablePointer<Float>?, g: Conv3dGeometry, workspace: Workspace,
                               accumulateInput: Bool, slab: Int, threads: Int) {
        let full = Layout(g, planes: 0..<min(slab, g.outD)), cin = g.inChannels, cout = g.outChannels, kw = 27 * cin
        let pad = full.shift(1, 1, 1), ld = pad + full.volume, pp = full.ph * full.pw
        let phases = workspace.buffer(phaseSlot, count: 8 * cin * full.volume)
        let dyext = workspace.buffer(extendedGradientSlot, count: cout * ld)
        // Weight gradient as dwt[(tap, ci)][co], output channels in the kernel's lanes.
        let dwt = workspace.buffer(packedGradSlot, count: cout * kw)
        dwt.update(repeating: 0, count: cout * kw)
        let dyt = workspace.buffer(transposedGradientSlot, count: cout * full.columns)
        let brows = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: kw)
        let dxrows = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: 27 * cout)
        defer { brows.deallocate(); dxrows.deallocate() }
        // Input gradient: per phase, A rows (tap of the phase, co), columns ci; B rows dyext shifted
        // back (the same rows for every slab: dyext has the same leading dimension in each).
        var a: UnsafeMutablePointer<Float>? = nil, dphases: UnsafeMutablePointer<Float>? = nil
        var aOffsets = [Int](repeating: 0, count: 9)
        if dx != nil {
            for p in 0..<8 { aOffsets[p + 1] = aOffsets[p] + packedCount(m: cin, k: phaseTaps[p].count * cout) }
            let ap = workspace.buffer(packedSlot, count: aOffsets[8])
            for p in 0..<8 {
                let tr = phaseTaps[p]
                packBlocks(m: cin, k: tr.count * cout, into: ap + aOffsets[p]) { q, ci in
                    w[((q % cout) * cin + ci) * 27 + taps[tr.lowerBound + q / cout].index]
                }
                for i in tr {
                    let s = full.shift(taps[i].sd, taps[i].sh, taps[i].sw)
                    for co in 0..<cout { dxrows[i * cout + co] = UnsafePointer(dyext + co * ld + pad - s) }
                }
            }
            a = ap
            dphases = workspace.buffer(phaseGradSlot, count: max(1, threads) * 8 * cin * pp)
        }
        let ov = g.outVoxels, pr = directWeightGradientRows(cout), dims = ConvCKernels.dims(g), skip = full.pw + 1
        for n in 0..<g.batch {
            for planes in slabs(g, planes: slab) {
                let l = Layout(g, planes: planes)
                phaseRows(phases, cin: cin, l, into: brows)
                split(x + n * cin * g.inVoxels, g, l, into: phases, threads: threads)
                transposeExtended(dy + n * cout * ov + l.outputOffset, l, into: dyt, channels: cout, threads: threads)
                Parallel.forEach(0..<((kw + pr - 1) / pr), threads: threads) { r in
                    dro_polyphase_dw_avx512(cout, dyt, cout, brows, 0, l.columns, dwt, cout,
                                            r.lowerBound * pr, min(kw, r.upperBound * pr))
                }
                guard let a, let dphases, let dx else { continue }
                extendPlanes(dy + n * cout * ov, g, l, into: dyext, ld: ld, pad: pad, channels: cout, threads: threads)
                // Plane by plane: each worker computes padded plane i (local; o0 + i in the volume) of
                // all 8 phases' gradients into its own plane buffer and merges it into dx planes
                // 2(o0 + i − 1), 2(o0 + i − 1) + 1 at once, while it is in L2 (no phase gradient of
                // the slab is written and read back). Row 0 and column 0 of a padded plane are
                // padding, which the merge never reads: the kernel skips the plane's first pw + 1
                // columns (at 16² outputs, 289 columns would otherwise end in a 1-column block
                // costing a full pass over the K rows).
                let planeCount = l.outD, workers = max(1, min(max(1, threads), planeCount))
                let dxs = dx + n * cin * g.inVoxels
                Parallel.forEach(0..<workers, threads: workers) { ks in
                    for k in ks {
                        let buf = dphases + k * 8 * cin * pp
                        for i in (1 + planeCount * k / workers)..<(1 + planeCount * (k + 1) / workers) {
                            let gi = l.firstPlane + i
                            let phaseRange = 2 * (gi - 1) + 1 < g.inD ? 0..<8 : 0..<4
                            for p in phaseRange {
                                let tr = phaseTaps[p]
                                // Without the B prefetches: in the training step they made this
                                // backward 0.99–1.07× slower while the forward gained 0.91–0.94×.
                                rowsGemm(cin, tr.count * cout, a + aOffsets[p], dxrows + tr.lowerBound * cout,
                                         i * pp + skip, (i + 1) * pp, buf + p * cin * pp + skip, pp, prefetch: false)
                            }
                            dro_polyphase_merge_plane_avx2(buf, dims, cin, gi, dxs, accumulateInput ? 1 : 0)
                        }
                    }
                }
            }
        }
        for co in 0..<cout {
            for (i, tp) in taps.enumerated() {
                for ci in 0..<cin { dw[(co * cin + ci) * 27 + tp.index] += dwt[(i * cin + ci) * cout + co] }
            }
        }
        if let dbias {
            Conv3d.accumulateBiasGradient(dy: dy, dbias: dbias, batch: g.batch, channels: cout, voxels: ov,
                                          threads: threads)
        }
    }
}
