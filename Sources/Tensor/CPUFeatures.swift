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
