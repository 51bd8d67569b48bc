import CKernels
import Common
import Foundation
import Tensor

/// `DRO_BENCH_PHASES=f43weight dro-bench unet --conv-phases`: the AVX-512 weight-gradient GEMMs
/// of one chunk (dU += P · Dᵀ) of every distinct layer of the network, alone: F(4,3) (216
/// components, the plan's tiles and strides) at 24³–96³ up to Cin = 128, F(2,3) (64 components,
/// whole rows of tiles up to 64 per chunk: an approximation of the plan's chunks) elsewhere. The
/// older two-vector kernel with its dU prefetch (`DRO_WINOGRAD_WEIGHT_KERNEL=outer`) and the wide
/// one (the default), alternating in one process. As in the layer, each call first finds its operands freshly written (the
/// transforms' output) and dU cold: before every call an 8 MiB buffer is written (evicting dU,
/// as a chunk's transforms do) and then the chunk's P and D. Only the GEMM call is timed (thread
/// CPU time with DRO_BENCH_CLOCK=cpu); best of `rounds` per variant, ms per chunk and GFLOP/s.
enum UNetWinogradWeightGEMM {
    static let rounds = 40
    /// DRO_BENCH_WARM=1: no eviction and no rewrite of the operands between calls (dU, P and D
    /// stay in cache as far as they fit): the kernel's rate without memory waits.
    static let warm = ProcessInfo.processInfo.environment["DRO_BENCH_WARM"] == "1"

    static func report(_ o: UNetBenchOptions) -> String {
        guard dro_cpu_has_avx512() != 0 else { return "f43weight: this CPU lacks AVX-512\n" }
        var text = "Winograd weight-gradient GEMM per chunk (best of \(rounds)), outer (2 × 12 blocks, dU prefetch) / wide\n"
        text += "layer                 tile   Cout×Cin  tiles | outer ms  GFLOP/s |  wide ms  GFLOP/s | wide/outer\n"
        let evict = UnsafeMutablePointer<Float>.allocate(capacity: 1 << 21)
        defer { evict.deallocate() }
        for (name, g) in UNetWinogradPhases.layers(o) {
            let cin = g.inChannels, cout = g.outChannels
            let f43 = g.inD >= 24 && cin <= 128
            let components = f43 ? 216 : 64
            let tilesW = f43 ? (g.inW + 3) / 4 : (g.inW + 1) / 2
            let tiles = max(1, 64 / tilesW) * tilesW
            let xiStride = (tiles + 31) / 32 * 32 + 16, ld = components * xiStride + 16
            let data = UnsafeMutablePointer<Float>.allocate(capacity: cin * ld)
            let products = UnsafeMutablePointer<Float>.allocate(capacity: cout * ld)
            let du = UnsafeMutablePointer<Float>.allocate(capacity: components * cout * cin)
            defer { data.deallocate(); products.deallocate(); du.deallocate() }
            du.initialize(repeating: 0, count: components * cout * cin)
            var best = [Double.infinity, .infinity]
            for round in 0..<(2 * rounds) {
                let variant = round % 2
                if !warm || round == 0 {
                    evict.initialize(repeating: Float(round), count: 1 << 21)
                    for i in 0..<(cin * ld) { data[i] = Float(i & 7) * 0.125 }
                    for i in 0..<(cout * ld) { products[i] = Float(i & 3) * 0.25 }
                }
                let t0 = UNetConvPhases.now()
                if variant == 0 {
                    dro_winograd_gemm_weight_prefetch_avx512(products, data, du, cout, cin, tiles, ld, xiStride,
                                                             components)
                } else {
                    dro_winograd_gemm_weight_wide_avx512(products, data, du, cout, cin, tiles, ld, xiStride, components)
                }
                best[variant] = min(best[variant], UNetConvPhases.now() - t0)
            }
            let gflop = 2.0 * Double(components * cout * cin * tiles) * 1e-9
            text += String(format: "%-21@ %@ %4d×%-4d %5d | %8.3f %8.1f | %8.3f %8.1f | %5.3f\n", name as NSString,
                           (f43 ? "F(4,3)" : "F(2,3)") as NSString, cout, cin,
                           tiles, best[0], gflop / best[0] * 1e3, best[1], gflop / best[1] * 1e3, best[1] / best[0])
        }
        return text
    }
}
