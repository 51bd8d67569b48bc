#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Backward paths chosen apart from the forward's: the transposed convs' and the stride-2
/// layers' backward run the path measured faster for the backward (docs/performance.md,
/// "Transposed and stride-2 backward (2026-12-03 (close))"), which is not always the forward's.
/// `DRO_BACKWARD_PATH=forward` makes every such backward run its forward's path again (the
/// choice before that section: same-binary comparisons); unset or `auto` = the per-layer rules
/// below. `DRO_CONVT` and `DRO_STRIDE2` still force one path for both directions.
public enum BackwardPathChoice {
    public static let followsForward: Bool = {
        guard let v = getenv("DRO_BACKWARD_PATH") else { return false }
        return String(cString: v) == "forward"
    }()
}

extension ConvTranspose3d {
    /// The transposed conv's backward on the direct AVX-512 kernel only up to this many
    /// Cin·Cout channel pairs; above it gather + two GEMMs (the GEMM path) is faster.
    public static let directBackwardMaximumChannelPairs = 64 * 32

    /// The kernel `backward` runs for g (without a tile override): the forward's, except that
    /// layers wider than `directBackwardMaximumChannelPairs` take the GEMM path.
    public static func automaticBackwardKernel(_ g: ConvTranspose3dGeometry) -> Kernel {
        let forward = automaticKernel(g)
        guard forward == .direct, requested == nil, !BackwardPathChoice.followsForward else { return forward }
        return g.inChannels * g.outChannels <= directBackwardMaximumChannelPairs ? .direct : .gemm
    }
}

extension ConvPolyphase {
    /// Widest layer whose backward runs this kernel although its forward stays on im2col.
    public static let maximumBackwardOutChannels = 128

    /// Whether the backward of g is expected to beat im2col + sgemm's: `isProfitable`, or up to
    /// `maximumBackwardOutChannels` output channels with the same column-overhead and scratch bounds.
    public static func isProfitableBackward(_ g: Conv3dGeometry) -> Bool {
        if isProfitable(g) { return true }
        if BackwardPathChoice.followsForward { return false }
        return applies(g) && g.outChannels <= maximumBackwardOutChannels
            && Double((g.outH + 1) * (g.outW + 1)) <= maximumColumnOverhead * Double(g.outH * g.outW)
            && scratchBytes(g) <= maximumScratchBytes
    }

    /// Whether the U-Net runs g's backward on this kernel (`choice` as for `selected`).
    public static func selectedBackward(_ g: Conv3dGeometry) -> Bool {
        switch choice {
        case .automatic: return isProfitableBackward(g)
        case .im2col: return false
        case .polyphase, .polyphaseSgemm: return applies(g)
        }
    }
}
