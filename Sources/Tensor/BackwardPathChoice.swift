#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Backward paths chosen apart from the forward's: the transposed convs' backward runs the path
/// measured faster for the backward (docs/performance.md, "Transposed and stride-2 backward
/// (2026-12-03 (close))"), which is not always the forward's. `DRO_BACKWARD_PATH=forward` makes
/// it run its forward's path again (the choice before that section: same-binary comparisons);
/// unset or `auto` = the rule below. `DRO_CONVT` still forces one path for both directions.
/// (The stride-2 layers' backward follows the forward's path: the polyphase backward for
/// Cout = 128 was faster in one-thread CPU time but slower in two-thread wall clock.)
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

    /// The kernel `backward` runs for g (without a tile override): the packed kernel where
    /// `packedBackwardEnabled` (ConvTranspose3d+Packed.swift); else the forward's, except that
    /// layers wider than `directBackwardMaximumChannelPairs` take the GEMM path.
    public static func automaticBackwardKernel(_ g: ConvTranspose3dGeometry) -> Kernel {
        if packedBackwardEnabled(g) { return .packed }
        let forward = automaticKernel(g)
        guard forward == .direct, requested == nil, !BackwardPathChoice.followsForward else { return forward }
        return g.inChannels * g.outChannels <= directBackwardMaximumChannelPairs ? .direct : .gemm
    }
}
