import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Instruction sets the hand-written kernels in CKernels may use, read once per process.
/// Every kernel with an AVX2 or AVX-512 body has a portable fallback (OpenBLAS or Swift), taken
/// when the CPU lacks the set or `DRO_PORTABLE_KERNELS=1` is in the environment (to measure
/// or test the fallback on a machine that has the set).
public enum CPUFeatures {
    /// AVX2 + FMA3 available and not disabled.
    public static let avx2FMA: Bool = !portableRequested && dro_cpu_has_avx2_fma() != 0
    /// AVX-512 F/BW/DQ/VL available and not disabled.
    public static let avx512: Bool = !portableRequested && dro_cpu_has_avx512() != 0

    private static var portableRequested: Bool {
        (getenv("DRO_PORTABLE_KERNELS").map { String(cString: $0) }) == "1"
    }
}

/// Which kernels this process runs where there is a choice, for benchmark and log headers.
public enum KernelChoice {
    /// "winograd_gemm" (forward and input gradient: avx2 | avx512 | blas), "winograd_gemm_weight"
    /// (weight gradient: the same values), "winograd_transforms" (avx512 | avx2 | swift),
    /// "conv_kernels" (the stride-2 im2col, first-layer and transposed-conv kernels: avx2 | swift),
    /// "winograd_f43_transforms" (avx512 | avx2 | swift, chosen as winograd_transforms),
    /// "conv_transpose" (2×2×2 transposed convs with rows ≥ 16: avx512 direct | gemm; `DRO_CONVT`; the
    /// backward of layers above 64·32 channel pairs runs gemm: `BackwardPathChoice.swift`),
    /// "pointwise_head" (1×1×1 convs of ≤ 16 output channels: avx512 direct | gemm; `DRO_HEAD`),
    /// "first_layer_weight_gradient" (Cin = 1 layer's dW: avx512 | avx2 | swift; `DRO_CONV1CH`),
    /// "winograd_tile" (f23 | f43 when DRO_WINOGRAD_TILE forces one, else the per-layer rule with its bounds),
    /// "stride2_winograd" (off | on | the automatic rule: `WinogradStride2.summary`; `DRO_STRIDE2_WINOGRAD`).
    public static var summary: [String: String] {
        let transforms: String
        switch WinogradTransformsC.preferred {
        case .avx512?: transforms = "avx512"
        case .avx2?: transforms = "avx2"
        case nil: transforms = "swift"
        }
        return ["winograd_gemm": WinogradGEMM.automatic.rawValue,
                "winograd_gemm_weight": WinogradGEMM.automaticWeight.rawValue, "winograd_transforms": transforms,
                "conv_kernels": ConvCKernels.available ? "avx2" : "swift",
                "conv_transpose": CPUFeatures.avx512 && !ConvTranspose3d.forcedGEMM ? "avx512" : "gemm",
                "pointwise_head": CPUFeatures.avx512 && !Conv3d.headForcedGEMM ? "avx512" : "gemm",
                "first_layer_weight_gradient": ConvCKernels.singleChannelAVX512 ? "avx512"
                    : (ConvCKernels.available ? "avx2" : "swift"),
                "winograd_f43_transforms": WinogradF43Transforms.kernelName,
                "gemm_threads": Parallel.blasThreading.rawValue,
                "stride2_winograd": WinogradStride2.summary,
                "winograd_tile": WinogradTile.requested?.rawValue
                    ?? "f43 at >= \(WinogradTile.minimumF43Extent)^3 and Cin*Cout <= \(WinogradTile.maximumF43ChannelProduct), else f23"]
    }

    /// One line: "Winograd GEMMs avx2, weight-gradient GEMMs avx2, transforms avx512, …, tile …" (the GEMM
    /// threading, also in `summary`, is named by the callers' own lines: `BLASThreading.description`).
    public static var description: String {
        let s = summary
        return [("winograd_gemm", "Winograd GEMMs"), ("winograd_gemm_weight", "weight-gradient GEMMs"),
                ("winograd_transforms", "transforms"),
                ("winograd_f43_transforms", "F(4,3) transforms"), ("conv_kernels", "conv kernels"),
                ("conv_transpose", "transposed convs"), ("pointwise_head", "1×1 heads"),
                ("first_layer_weight_gradient", "first-layer dW"),
                ("winograd_tile", "tile"), ("stride2_winograd", "stride-2 Winograd")]
            .map { key, label in "\(label) \(s[key] ?? "?")" }
            .joined(separator: ", ")
    }
}
