#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Depth slabs of the polyphase stride-2 convolution: its workspace — the phases of the input,
/// the extended output gradient and its transpose, the sgemm path's phase gradient — grows with
/// the planes it covers, so the layer runs over slabs of output planes [o0, o1) whose scratch
/// fits `slabBudgetBytes`, whatever the volume (the fetal network's 32 → 64 layer at 96³ needed
/// 240 MB for the whole sample at once).
///
/// A slab of output planes [o0, o1) reads the padded phase planes o0 ... o1 (input planes
/// 2·o0 − 2 ..< 2·o1: one padded plane, two input planes, shared with the previous slab — the
/// halo). Forward: its outputs. Weight gradient: the products of its outputs' gradient, summed
/// over slabs. Input gradient: the padded phase planes o0 + 1 ... o1 — each reads the output
/// gradient planes i − 1 and i, so the slab holds dy planes o0 ... o1 (one beyond the slab, zero
/// past the volume) — merged into the dx planes 2·o0 ..< 2·o1: every dx plane is written once, by
/// one slab, and every phase-gradient entry is complete when it is merged.
///
/// The forward and the input gradient compute each output / phase-gradient entry exactly as over
/// the whole sample (same products in the same order: the direct kernels' results do not depend
/// on the slabs); the weight gradient's sums are split at slab borders (its rounding depends on
/// the slab size, not on the thread count).
extension ConvPolyphase {
    /// Bytes of slab scratch to aim for (`DRO_STRIDE2_SLAB_MB`, default 32 MB; fractions allowed,
    /// e.g. 0.05 to force one-plane slabs on a small network for a cross-check): measured on the
    /// fetal 32 → 64 layer at 96³ (docs/performance.md, "Stride-2 layers in depth slabs").
    public static let slabBudgetBytes: Int = {
        if let v = getenv("DRO_STRIDE2_SLAB_MB"), let mb = Double(String(cString: v)), mb > 0 {
            return max(1, Int(mb * 1048576))
        }
        return 32 << 20
    }()

    /// Floats per padded plane of a slab's scratch: the phases (8·Cin), and in the backward the
    /// extended output gradient (Cout) plus the direct path's transposed copy (Cout) or the sgemm
    /// path's phase gradient (8·Cin).
    static func slabFloatsPerPlane(_ g: Conv3dGeometry, kernel: Kernel, backward: Bool) -> Int {
        let pp = (g.outH + 1) * (g.outW + 1), cin = g.inChannels, cout = g.outChannels
        guard backward else { return 8 * cin * pp }
        return (kernel == .direct ? 8 * cin + 2 * cout : 16 * cin + cout) * pp
    }

    /// Output planes per slab for g: the most whose S + 1 padded planes fit `budget` bytes
    /// (at least 1, at most the volume's).
    public static func slabPlanes(_ g: Conv3dGeometry, kernel: Kernel, backward: Bool,
                                  budget: Int = slabBudgetBytes) -> Int {
        let perPlane = slabFloatsPerPlane(g, kernel: kernel, backward: backward) * MemoryLayout<Float>.size
        return max(1, min(g.outD, budget / max(1, perPlane) - 1))
    }

    /// The slabs of `planes` output planes covering 0 ..< outD (the last one shorter).
    static func slabs(_ g: Conv3dGeometry, planes: Int) -> [Range<Int>] {
        let s = max(1, planes)
        return stride(from: 0, to: g.outD, by: s).map { $0..<min(g.outD, $0 + s) }
    }

    /// Bytes of the slab scratch `forward` and `backward` hold for g with its automatic kernel
    /// (both run the backward's slabs; the tiles and packed weights, a few MB, come on top).
    public static func scratchBytes(_ g: Conv3dGeometry) -> Int {
        let k = automaticKernel(g)
        return (slabPlanes(g, kernel: k, backward: true) + 1) * slabFloatsPerPlane(g, kernel: k, backward: true)
            * MemoryLayout<Float>.size
    }

    /// dyext[co·ld + pad + e'] = the extended output gradient of the output planes
    /// l.firstPlane ... l.firstPlane + l.outD (e' = local plane·pp + oh·pw + ow; planes past the
    /// volume, the row oh = outH and the column ow = outW are 0), and the `pad` Floats before it 0.
    /// dys: one sample's dy.
    static func extendPlanes(_ dys: UnsafePointer<Float>, _ g: Conv3dGeometry, _ l: Layout,
                             into dyext: UnsafeMutablePointer<Float>, ld: Int, pad: Int, channels: Int, threads: Int) {
        let pp = l.ph * l.pw, plane = l.outH * l.outW
        Parallel.forEach(0..<channels, threads: threads) { r in
            for co in r {
                let dst = dyext + co * ld
                dst.update(repeating: 0, count: pad)
                for j in 0..<l.pd {
                    let od = l.firstPlane + j, d = dst + pad + j * pp
                    guard od < g.outD else { d.update(repeating: 0, count: pp); continue }
                    let src = dys + co * l.channelStride + od * plane
                    for oh in 0..<l.outH {
                        let row = d + oh * l.pw
                        row.update(from: src + oh * l.outW, count: l.outW)
                        row[l.outW] = 0
                    }
                    (d + l.outH * l.pw).update(repeating: 0, count: l.pw)
                }
            }
        }
    }
}
