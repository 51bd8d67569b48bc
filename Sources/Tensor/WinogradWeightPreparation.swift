import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The transformed weights of a forward or input-gradient pass, in the layout the pass's GEMM
/// kernel reads: `u` [components][M][K] with (M, K) = (Cout, Cin) forward, (Cin, Cout) for the
/// input gradient (`flipTranspose`), row-major or in the packed panel order
/// (`WinogradGEMM.readsPackedWeights`).
///
/// Where the packed order is read and the CPU has AVX-512, one C kernel transforms and writes
/// the packed order directly (winograd_weights_avx512.c): the 8 rows of a panel go through the
/// transform in one vector (512-bit Double vectors for F(4,3), where the Swift SIMD8<Double>
/// code runs on baseline x86-64 vectors), and no separate packing pass reads and rewrites U.
/// Bit-identical to the Swift transform followed by `WinogradGEMM.prepareWeights`
/// (WinogradPackedWeightTests), which stays the path everywhere else (and with
/// DRO_WINOGRAD_WEIGHTS=swift, for same-binary measurements).
enum WinogradWeightPreparation {
    enum Tile { case f23, f43 }

    /// Whether the packed C kernels run where the GEMM reads packed weights (read once).
    static let packedKernels: Bool =
        CPUFeatures.avx512 && getenv("DRO_WINOGRAD_WEIGHTS").map { String(cString: $0) } != "swift"

    static func prepare(_ tile: Tile, kernel: WinogradGEMM.Kernel, w: UnsafePointer<Float>, cout: Int, cin: Int,
                        flipTranspose: Bool, u: UnsafeMutablePointer<Float>) {
        let (m, k) = flipTranspose ? (cin, cout) : (cout, cin)
        if packedKernels && WinogradGEMM.readsPackedWeights(kernel, cout: m) {
            packed(tile, w: w, cout: cout, cin: cin, flipTranspose: flipTranspose, u: u)
            return
        }
        switch tile {
        case .f23: WinogradWeightTransforms.transform(w: w, cout: cout, cin: cin, flipTranspose: flipTranspose, u: u)
        case .f43: WinogradF43.transformWeights(w, cout: cout, cin: cin, flipTranspose: flipTranspose, u: u)
        }
        let components = tile == .f23 ? WinogradWeightTransforms.components : WinogradF43.components
        WinogradGEMM.prepareWeights(kernel, u: u, cout: m, cin: k, components: components)
    }

    /// The C kernel over all panels of 8 rows, split over the workers (one thread below 256 pairs).
    static func packed(_ tile: Tile, w: UnsafePointer<Float>, cout: Int, cin: Int, flipTranspose: Bool,
                       u: UnsafeMutablePointer<Float>) {
        let m = flipTranspose ? cin : cout
        let panels = (m + 7) / 8, flip: Int32 = flipTranspose ? 1 : 0
        Parallel.forEach(0..<panels, threads: cout * cin >= 256 ? Parallel.defaultThreads : 1) { range in
            switch tile {
            case .f23: dro_winograd_f23_weights_packed_avx512(w, cout, cin, flip, u, range.lowerBound, range.upperBound)
            case .f43: dro_winograd_f43_weights_packed_avx512(w, cout, cin, flip, u, range.lowerBound, range.upperBound)
            }
        }
    }
}
