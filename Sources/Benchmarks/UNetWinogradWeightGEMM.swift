import CKernels
import Common
import Foundation
import Tensor

/// `DRO_BENCH_PHASES=f43weight dro-bench unet --conv-phases`: the AVX-512 weight-gradient GEMMs
/// of one F(4,3) chunk (216 components, dU += P · Dᵀ) of every distinct F(4,3)-sized layer of the
/// network, alone, with and without the dU prefetch (`DRO_WINOGRAD_DU_PREFETCH`), alternating in
/// one process. As in the layer, each call first finds its operands freshly written (the
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
        var text = "F(4,3) weight-gradient GEMM per chunk (best of \(rounds)), dU prefetch off / on\n"
        text += "layer                 Cout×Cin  tiles |   off ms  GFLOP/s |    on ms  GFLOP/s | on/off\n"
        let evict = UnsafeMutablePointer<Float>.allocate(capacity: 1 << 21)
        defer { evict.deallocate() }
        for (name, g) in UNetWinogradPhases.layers(o) where g.inD >= 24 && g.inChannels <= 128 {
            let cin = g.inChannels, cout = g.outChannels
            let tilesW = (g.inW + 3) / 4
            let tiles = max(1, 64 / tilesW) * tilesW
            let xiStride = (tiles + 31) / 32 * 32 + 16, ld = 216 * xiStride + 16
            let data = UnsafeMutablePointer<Float>.allocate(capacity: cin * ld)
            let products = UnsafeMutablePointer<Float>.allocate(capacity: cout * ld)
            let du = UnsafeMutablePointer<Float>.allocate(capacity: 216 * cout * cin)
            defer { data.deallocate(); products.deallocate(); du.deallocate() }
            du.initialize(repeating: 0, count: 216 * cout * cin)
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
                    dro_winograd_gemm_weight_avx512(products, data, du, cout, cin, tiles, ld, xiStride, 216)
                } else {
                    dro_winograd_gemm_weight_prefetch_avx512(products, data, du, cout, cin, tiles, ld, xiStride, 216)
                }
                best[variant] = min(best[variant], UNetConvPhases.now() - t0)
            }
            let gflop = 2.0 * 216 * Double(cout * cin * tiles) * 1e-9
            text += String(format: "%-21@ %4d×%-4d %5d | %8.3f %8.1f | %8.3f %8.1f | %5.3f\n", name as NSString, cout, cin,
                           tiles, best[0], gflop / best[0] * 1e3, best[1], gflop / best[1] * 1e3, best[1] / best[0])
        }
        return text
    }
}
