#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CKernels

/// Stride-2, padding-1, 3×3×3 convolutions (the U-Net's downsampling layers) without im2col:
/// the input is split once per sample (per depth slab of it: `ConvPolyphase+Slabs.swift`) into its 8
/// parity sub-volumes ("phases"), after which every
/// tap of the kernel is a plain shifted view of one phase, and the convolution is a handful of
/// GEMMs that read the phases directly — no 27·Cin-row column matrix is gathered (forward, weight
/// gradient) or scattered back (input gradient).
///
/// Per axis, output o reads input 2o + k − 1 for taps k = 0, 1, 2: k = 1 is the even input 2o
/// (phase 0, index o), k = 0 and k = 2 are the odd inputs 2o − 1 and 2o + 1 (phase 1, indices
/// o − 1 and o). Each phase is stored with one leading zero plane/row/column ("padded index" =
/// index + 1), so tap k reads padded index o + s with shift s = 0 for k = 0 and s = 1 for k = 1, 2.
/// The output is computed in an *extended* layout of (oH + 1)·(oW + 1) columns per output plane
/// (flat column e = (od·(oH + 1) + oh)·(oW + 1) + ow), in which a tap with shifts (sd, sh, sw) is the
/// phase read at e + (sd·(oH + 1) + sh)·(oW + 1) + sw: one matrix with the phase's channels as rows
/// (row stride = the phase volume), so a GEMM can take it as B unchanged. The columns with
/// oh = oH or ow = oW are discarded (forward) or held at zero (backward); they cost
/// (1 + 1/oH)(1 + 1/oW) − 1 extra columns (6 % at 32², 27 % at 8²).
///
/// Phases are stored phase-major ([8][Cin][volume], phase p = 4·(d parity) + 2·(h parity) + w parity),
/// so taps that share a shift and whose phases are consecutive form one GEMM with
/// K = (number of phases)·Cin: the 27 taps become 14 GEMMs with K = 8, 4, 2, 2, 2, 1 … × Cin
/// (`groups`). Columns are processed in tiles sized for L2 (`tileColumns`); the GEMMs are
/// OpenBLAS's (threaded), the phase split / merge and the crop are `Parallel.forEach` passes; the
/// split and merge run in C with AVX2 (`CKernels/conv_polyphase.c`, bit-identical) when the CPU has
/// it and `DRO_PORTABLE_KERNELS=1` is not set, else the Swift loops here.
///
/// Sums run in a different order than im2col + sgemm: results agree with the naive convolution
/// to Float rounding, not bit for bit (tests: ConvPolyphaseTests).
public enum ConvPolyphase {
    /// Whether g is a layer this kernel computes (3×3×3, stride 2, padding 1).
    public static func applies(_ g: Conv3dGeometry) -> Bool {
        g.kernel == 3 && g.stride == 2 && g.padding == 1 && g.outVoxels > 0
    }

    /// Whether this kernel is expected to beat im2col + sgemm for g. What it saves is the im2col
    /// and col2im passes, whose share of the layer falls as 1/Cout (the GEMMs grow with Cout, the
    /// passes do not); what it costs is the extended layout's extra columns, (1 + 1/oH)(1 + 1/oW).
    /// Measured (thread CPU time, 1 thread; docs/performance.md, "Stride-2 convolutions without
    /// im2col"): Cout 32–64 with 16²–48² output planes 0.83–0.95× im2col's time; Cout 128 at 24²
    /// 1.0×, at 8²–12² 1.06–1.11×; Cout 320 at 6² 2×.
    /// Inside the layers this rule picks, the products are the direct AVX-512 kernels on an AVX-512
    /// CPU and the GEMMs otherwise (`automaticKernel`; docs/performance.md, "2026-12-03 (later)" and
    /// "2026-12-03 (evening)").
    /// It holds the phases and, in the backward, the output gradient (and the sgemm path's
    /// phase gradient) of one depth slab at a time (`ConvPolyphase+Slabs.swift`), at most
    /// `slabBudgetBytes` unless one plane alone exceeds it: layers whose slab scratch would pass
    /// `maximumScratchBytes` stay on im2col (2 MB tiles).
    public static func isProfitable(_ g: Conv3dGeometry) -> Bool {
        applies(g) && g.outChannels <= maximumOutChannels
            && Double((g.outH + 1) * (g.outW + 1)) <= maximumColumnOverhead * Double(g.outH * g.outW)
            && scratchBytes(g) <= maximumScratchBytes
    }
    public static let maximumScratchBytes = 64 << 20
    public static let maximumOutChannels = 64
    public static let maximumColumnOverhead = 1.2

    /// `DRO_STRIDE2=im2col` keeps every stride-2 layer on im2col + sgemm, `DRO_STRIDE2=polyphase`
    /// puts every one on this kernel (whatever its size: for cross-checks such as
    /// scripts/check_against_torch.py on a small network), unset = `isProfitable` decides.
    /// `DRO_STRIDE2=polyphase-sgemm` is `polyphase` with the 14 OpenBLAS GEMMs per tile even where
    /// the direct AVX-512 kernels run (`ConvPolyphase+Direct.swift`).
    public enum Choice: String, Sendable { case automatic, im2col, polyphase, polyphaseSgemm = "polyphase-sgemm" }
    public static let choice: Choice = {
        guard let v = getenv("DRO_STRIDE2") else { return .automatic }
        return Choice(rawValue: String(cString: v)) ?? .automatic
    }()

    /// Whether the U-Net runs g on this kernel (see `choice`).
    public static func selected(_ g: Conv3dGeometry) -> Bool {
        switch choice {
        case .automatic: return isProfitable(g)
        case .im2col: return false
        case .polyphase, .polyphaseSgemm: return applies(g)
        }
    }

    /// Workspace slots (beside Conv3d's 0, 1, 5, ConvTranspose3d's 2, DiceCELoss's 3 and
    /// ConvDispatch's 4): phases (6), output / output-gradient tile (7), packed weights (8),
    /// packed weight gradient (9), phase gradient (10).
    static let phaseSlot = 6, tileSlot = 7, packedSlot = 8, packedGradSlot = 9, phaseGradSlot = 10

    /// Target Floats of one tile's B rows (8·Cin) plus C rows (Cout): 256 Ki Floats = 1 MiB, half
    /// an L2 (the rest for OpenBLAS's packed panels).
    public nonisolated(unsafe) static var tileBudget = 256 << 10
    static let minTileColumns = 512, maxTileColumns = 8192, tileGranule = 256

    /// Geometry of the phases and the extended output layout of one sample, or of one depth slab
    /// of it: the output planes `firstPlane ..< firstPlane + outD` and the padded phase planes
    /// `firstPlane ... firstPlane + outD` they read (`ConvPolyphase+Slabs.swift`).
    struct Layout {
        let outD, outH, outW: Int
        /// First output plane of the slab (0 for the whole sample).
        let firstPlane: Int
        /// Output voxels of one channel of the whole sample (the channel stride of y and dy).
        let channelStride: Int
        /// Padded phase extents (out + 1 per axis) and the phase volume.
        let pd, ph, pw, volume: Int
        /// Extended columns that hold every valid output: up to the last valid one.
        let columns: Int

        init(_ g: Conv3dGeometry, planes: Range<Int>? = nil) {
            let r = planes ?? 0..<g.outD
            precondition(r.lowerBound >= 0 && r.upperBound <= g.outD && !r.isEmpty, "ConvPolyphase.Layout: planes \(r)")
            outD = r.count; outH = g.outH; outW = g.outW
            firstPlane = r.lowerBound; channelStride = g.outVoxels
            pd = outD + 1; ph = outH + 1; pw = outW + 1
            volume = pd * ph * pw
            columns = ((outD - 1) * ph + outH - 1) * pw + outW
        }

        func shift(_ sd: Int, _ sh: Int, _ sw: Int) -> Int { (sd * ph + sh) * pw + sw }
        /// Offset in y / dy of one sample of the slab's first output plane.
        var outputOffset: Int { firstPlane * outH * outW }
    }

    /// One GEMM: the taps of phases phase0 ..< phase0 + taps.count at one shift.
    struct Group {
        let sd, sh, sw: Int
        let phase0: Int
        /// Kernel tap (kd·9 + kh·3 + kw) read from each phase of the run.
        let taps: [Int]
    }

    /// The 14 groups covering the 27 taps once each.
    static let groups: [Group] = {
        var out: [Group] = []
        for sd in [1, 0] { for sh in [1, 0] { for sw in [1, 0] {
            var run: [Int] = [], start = -1
            func flush() {
                if !run.isEmpty { out.append(Group(sd: sd, sh: sh, sw: sw, phase0: start, taps: run)) }
                run = []; start = -1
            }
            for p in 0..<8 {
                let par = [p >> 2, (p >> 1) & 1, p & 1], s = [sd, sh, sw]
                // Shift 0 is tap 0, which only the odd phase has; shift 1 is tap 1 (even) or 2 (odd).
                if (0..<3).contains(where: { s[$0] == 0 && par[$0] == 0 }) { flush(); continue }
                let k = (0..<3).map { s[$0] == 0 ? 0 : 1 + par[$0] }
                if start < 0 { start = p }
                run.append(k[0] * 9 + k[1] * 3 + k[2])
            }
            flush()
        }}}
        return out
    }()

    /// Columns per tile for g.
    static func tileColumns(_ g: Conv3dGeometry, _ layout: Layout) -> Int {
        let rows = 8 * g.inChannels + g.outChannels
        let t = max(minTileColumns, min(maxTileColumns, tileBudget / max(1, rows) / tileGranule * tileGranule))
        return max(1, min(t, layout.columns))
    }

    /// Default columns per tile for g (public for `dro-bench unet --conv-phases`).
    public static func tileColumns(_ g: Conv3dGeometry) -> Int { tileColumns(g, Layout(g)) }
    /// Extended columns of one sample as one slab (the most a tile can hold).
    public static func extendedColumns(_ g: Conv3dGeometry) -> Int { Layout(g).columns }
    /// A_g[co, i·Cin + ci] = w[co, ci, taps[i]] for each group, one after another.
    static func pack(w: UnsafePointer<Float>, into a: UnsafeMutablePointer<Float>, cin: Int, cout: Int) {
        var off = 0
        for grp in groups {
            let k = grp.taps.count * cin
            for co in 0..<cout {
                for (i, tap) in grp.taps.enumerated() {
                    for ci in 0..<cin { a[off + co * k + i * cin + ci] = w[(co * cin + ci) * 27 + tap] }
                }
            }
            off += cout * k
        }
    }

    /// dw[co, ci, taps[i]] += dA_g[co, i·Cin + ci] (inverse of `pack`, accumulating).
    static func unpackAdd(_ a: UnsafePointer<Float>, into dw: UnsafeMutablePointer<Float>, cin: Int, cout: Int) {
        var off = 0
        for grp in groups {
            let k = grp.taps.count * cin
            for co in 0..<cout {
                for (i, tap) in grp.taps.enumerated() {
                    for ci in 0..<cin { dw[(co * cin + ci) * 27 + tap] += a[off + co * k + i * cin + ci] }
                }
            }
            off += cout * k
        }
    }

    /// x [N, Cin, D, H, W], w [Cout, Cin, 3, 3, 3], bias [Cout] or nil → y [N, Cout, oD, oH, oW]
    /// (overwritten). Runs over depth slabs of `slabPlanes` output planes (nil: the backward's
    /// `slabPlanes(g, …)`, so the phases' slot never grows past the backward's and the layer's
    /// slots together stay within `slabBudgetBytes`).
    public static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, g: Conv3dGeometry, workspace: Workspace,
                               tile tileOverride: Int? = nil, kernel: Kernel? = nil, slabPlanes slabOverride: Int? = nil,
                               threads: Int = Parallel.defaultThreads) {
        precondition(applies(g), "ConvPolyphase.forward: not a 3×3×3 stride-2 padding-1 conv: \(g)")
        let k = kernel ?? automaticKernel(g)
        let slab = slabOverride ?? slabPlanes(g, kernel: k, backward: true)
        let full = Layout(g, planes: 0..<min(slab, g.outD)), cin = g.inChannels, cout = g.outChannels
        let tile = min(tileOverride ?? tileColumns(g, full), full.columns)
        if k == .direct {
            forwardDirect(x: x, w: w, bias: bias, y: y, g: g, workspace: workspace, tile: tile, slab: slab, threads: threads)
            return
        }
        let phases = workspace.buffer(phaseSlot, count: 8 * cin * full.volume)
        let ct = workspace.buffer(tileSlot, count: cout * tile)
        let a = workspace.buffer(packedSlot, count: g.weightCount)
        pack(w: w, into: a, cin: cin, cout: cout)
        let ov = g.outVoxels
        for n in 0..<g.batch {
            for planes in slabs(g, planes: slab) {
                let l = Layout(g, planes: planes)
                split(x + n * cin * g.inVoxels, g, l, into: phases, threads: threads)
                let ys = y + n * cout * ov + l.outputOffset
                var e0 = 0
                while e0 < l.columns {
                    let t = min(tile, l.columns - e0)
                    var aOff = 0
                    for (gi, grp) in groups.enumerated() {
                        let k = grp.taps.count * cin
                        parallelSgemm(m: cout, n: t, k: k, a: a + aOff, lda: k,
                                      b: phases + grp.phase0 * cin * l.volume + l.shift(grp.sd, grp.sh, grp.sw) + e0,
                                      ldb: l.volume, beta: gi == 0 ? 0 : 1, c: ct, ldc: t, threads: threads)
                        aOff += cout * k
                    }
                    crop(ct, columns: e0..<(e0 + t), l, bias: bias, into: ys, channels: cout, threads: threads)
                    e0 += t
                }
            }
        }
    }

    /// y[co, valid e] = ct[co, e − e0] (+ bias) for the extended columns `columns` of one sample's
    /// slab l (ys: the slab's first output plane, channel stride `l.channelStride`).
    static func crop(_ ct: UnsafePointer<Float>, columns: Range<Int>, _ l: Layout, bias: UnsafePointer<Float>?,
                     into ys: UnsafeMutablePointer<Float>, channels: Int, threads: Int) {
        let t = columns.count, ov = l.channelStride
        Parallel.forEach(0..<channels, threads: threads) { r in
            for co in r {
                let b = bias?[co] ?? 0, src = ct + co * t, dst = ys + co * ov
                var e = columns.lowerBound
                while e < columns.upperBound {
                    let ow = e % l.pw, rowIndex = e / l.pw, oh = rowIndex % l.ph, od = rowIndex / l.ph
                    let run = min(l.pw - ow, columns.upperBound - e)
                    if oh < l.outH {
                        let valid = min(run, l.outW - ow)
                        if valid > 0 {
                            let s = src + (e - columns.lowerBound), d = dst + (od * l.outH + oh) * l.outW + ow
                            for i in 0..<valid { d[i] = s[i] + b }
                        }
                    }
                    e += run
                }
            }
        }
    }

    /// dt[co, e − e0] = dy[co, e] for valid extended columns, 0 for the discarded ones (dys: the
    /// slab's first output plane, channel stride `l.channelStride`).
    static func extend(_ dys: UnsafePointer<Float>, columns: Range<Int>, _ l: Layout,
                       into dt: UnsafeMutablePointer<Float>, ld: Int? = nil, channels: Int, threads: Int) {
        let t = columns.count, ov = l.channelStride, rowStride = ld ?? t
        Parallel.forEach(0..<channels, threads: threads) { r in
            for co in r {
                let src = dys + co * ov, dst = dt + co * rowStride
                var e = columns.lowerBound
                while e < columns.upperBound {
                    let ow = e % l.pw, rowIndex = e / l.pw, oh = rowIndex % l.ph, od = rowIndex / l.ph
                    let run = min(l.pw - ow, columns.upperBound - e)
                    let d = dst + (e - columns.lowerBound)
                    let valid = oh < l.outH ? max(0, min(run, l.outW - ow)) : 0
                    if valid > 0 { d.update(from: src + (od * l.outH + oh) * l.outW + ow, count: valid) }
                    if valid < run { (d + valid).update(repeating: 0, count: run - valid) }
                    e += run
                }
            }
        }
    }

    /// Gradients of `forward`. dy [N, Cout, oD, oH, oW]. dx [N, Cin, D, H, W]: OVERWRITTEN, or
    /// accumulated into when `accumulateInput` (nil: skipped). dw and dbias: ACCUMULATED.
    /// Runs over depth slabs like `forward`: per slab of output planes [o0, o1), the weight
    /// gradient of those outputs, and the gradient of the padded phase planes o0 + 1 ... o1 (which
    /// read the output planes o0 ... o1: one plane of dy beyond the slab) merged into the dx planes
    /// 2·o0 ..< 2·o1, so every dx plane is written once.
    public static func backward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, g: Conv3dGeometry, workspace: Workspace,
                                accumulateInput: Bool = false, tile tileOverride: Int? = nil, kernel: Kernel? = nil,
                                slabPlanes slabOverride: Int? = nil, threads: Int = Parallel.defaultThreads) {
        precondition(applies(g), "ConvPolyphase.backward: not a 3×3×3 stride-2 padding-1 conv: \(g)")
        let kern = kernel ?? automaticKernel(g)
        let slab = slabOverride ?? slabPlanes(g, kernel: kern, backward: true)
        if kern == .direct {
            backwardDirect(x: x, w: w, dy: dy, dx: dx, dw: dw, dbias: dbias, g: g, workspace: workspace,
                           accumulateInput: accumulateInput, slab: slab, threads: threads)
            return
        }
        let full = Layout(g, planes: 0..<min(slab, g.outD)), cin = g.inChannels, cout = g.outChannels
        let tile = min(tileOverride ?? tileColumns(g, full), full.columns)
        let phases = workspace.buffer(phaseSlot, count: 8 * cin * full.volume)
        let dt = workspace.buffer(tileSlot, count: cout * tile)
        let da = workspace.buffer(packedGradSlot, count: g.weightCount)
        da.update(repeating: 0, count: g.weightCount)
        var a: UnsafeMutablePointer<Float>? = nil, dphases: UnsafeMutablePointer<Float>? = nil
        var dyext: UnsafeMutablePointer<Float>? = nil
        let pad = full.shift(1, 1, 1), ld = pad + full.volume, pp = full.ph * full.pw
        if dx != nil {
            a = workspace.buffer(packedSlot, count: g.weightCount)
            pack(w: w, into: a!, cin: cin, cout: cout)
            dphases = workspace.buffer(phaseGradSlot, count: 8 * cin * full.volume)
            dyext = workspace.buffer(extendedGradientSlot, count: cout * ld)
        }
        let ov = g.outVoxels
        for n in 0..<g.batch {
            for planes in slabs(g, planes: slab) {
                let l = Layout(g, planes: planes)
                split(x + n * cin * g.inVoxels, g, l, into: phases, threads: threads)
                let dys = dy + n * cout * ov + l.outputOffset
                var e0 = 0
                while e0 < l.columns {
                    let t = min(tile, l.columns - e0)
                    extend(dys, columns: e0..<(e0 + t), l, into: dt, channels: cout, threads: threads)
                    var aOff = 0
                    for grp in groups {
                        let k = grp.taps.count * cin
                        let off = grp.phase0 * cin * l.volume + l.shift(grp.sd, grp.sh, grp.sw) + e0
                        parallelSgemm(transB: true, m: cout, n: k, k: t, a: dt, lda: t, b: phases + off, ldb: l.volume,
                                      beta: 1, c: da + aOff, ldc: k, threads: threads)
                        aOff += cout * k
                    }
                    e0 += t
                }
                guard let a, let dphases, let dyext, let dx else { continue }
                // Phase planes 1 ... outD of the slab, each gathered from dy at its 1–8 shifts:
                // dphase_p[ci][q] += Σ_co A_g[co, (p − phase0)·Cin + ci] · dyext[co][q − shift].
                extendPlanes(dy + n * cout * ov, g, l, into: dyext, ld: ld, pad: pad, channels: cout, threads: threads)
                let cols = l.volume - pp
                Parallel.forEach(0..<(8 * cin), threads: threads) { r in
                    for pc in r { (dphases + pc * l.volume + pp).update(repeating: 0, count: cols) }
                }
                var aOff = 0
                for grp in groups {
                    let k = grp.taps.count * cin, s = l.shift(grp.sd, grp.sh, grp.sw)
                    parallelSgemm(transA: true, m: k, n: cols, k: cout, a: a + aOff, lda: k, b: dyext + pad - s + pp,
                                  ldb: ld, beta: 1, c: dphases + grp.phase0 * cin * l.volume + pp, ldc: l.volume,
                                  threads: threads)
                    aOff += cout * k
                }
                merge(dphases, g, l, into: dx + n * cin * g.inVoxels, accumulate: accumulateInput, threads: threads)
            }
        }
        unpackAdd(da, into: dw, cin: cin, cout: cout)
        if let dbias {
            Conv3d.accumulateBiasGradient(dy: dy, dbias: dbias, batch: g.batch, channels: cout, voxels: ov,
                                          threads: threads)
        }
    }
}
