#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The stride-2 layers' backward on the direct AVX-512 polyphase products where the forward
/// stays on im2col + sgemm: layers of up to `maximumBackwardOutChannels` output channels (the
/// fetal 64 → 128 layer at 48³ → 24³) with the same column-overhead and scratch bounds as
/// `isProfitable`. The forward of such a layer keeps im2col (the direct forward at Cout = 128 was
/// 1.0–1.2× of im2col's); its input gradient on the direct products skips im2col's column
/// gradient and col2im, and its weight gradient reads the phases in place.
///
/// `DRO_STRIDE2_BACKWARD=forward` makes the backward follow its forward's path again (im2col
/// for these layers: the rule before this file, for same-binary comparisons); unset or `auto` =
/// the rule here. `DRO_STRIDE2` still forces one path for both directions, and without AVX-512
/// (or with `DRO_PORTABLE_KERNELS=1`) the backward follows the forward.
/// (An earlier version of this rule ran those layers' backward on the 14 OpenBLAS GEMMs of the
/// polyphase path and was withdrawn: less CPU time but slower in two-thread wall clock.)
extension ConvPolyphase {
    /// Widest layer whose backward runs the direct products although its forward stays on im2col.
    public static let maximumBackwardOutChannels = 128

    /// Whether the backward follows the forward's path (`DRO_STRIDE2_BACKWARD=forward`).
    public static let backwardFollowsForward: Bool = {
        guard let v = getenv("DRO_STRIDE2_BACKWARD") else { return false }
        return String(cString: v) == "forward"
    }()

    /// Bytes of slab scratch of g's backward with kernel k.
    static func scratchBytes(_ g: Conv3dGeometry, kernel k: Kernel) -> Int {
        (slabPlanes(g, kernel: k, backward: true) + 1) * slabFloatsPerPlane(g, kernel: k, backward: true)
            * MemoryLayout<Float>.size
    }

    /// Whether g's backward (forward on im2col) runs the direct products by the rule above.
    public static func isProfitableDirectBackward(_ g: Conv3dGeometry) -> Bool {
        applies(g) && CPUFeatures.avx512 && g.outChannels <= maximumBackwardOutChannels
            && Double((g.outH + 1) * (g.outW + 1)) <= maximumColumnOverhead * Double(g.outH * g.outW)
            && scratchBytes(g, kernel: .direct) <= maximumScratchBytes
    }

    /// The polyphase kernel g's backward runs in the U-Net, or nil for im2col + sgemm: the
    /// forward's choice (`selected`, `automaticKernel`), else the direct products where
    /// `isProfitableDirectBackward` holds (unless `DRO_STRIDE2_BACKWARD=forward`).
    public static func selectedBackwardKernel(_ g: Conv3dGeometry) -> Kernel? {
        if selected(g) { return automaticKernel(g) }
        guard choice == .automatic, !backwardFollowsForward, isProfitableDirectBackward(g) else { return nil }
        return .direct
    }
}
