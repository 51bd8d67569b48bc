import CBLAS
import CKernels
import Common
import Foundation
import Tensor

/// `DRO_BENCH_PHASES=f43direct`, kernel part: the forward / input-gradient GEMMs of one F(4,3)
/// chunk (216 components, C = U · B) at the M × K of the F(4,3)-sized layers' passes, alone,
/// with OpenBLAS (one sgemm per component), the packed kernel and the direct kernel, alternating
/// in one process. As in the layer, each call finds B freshly written (the input transform's
/// output) after an 8 MiB buffer was written; only the GEMM call is timed (thread CPU time with
/// DRO_BENCH_CLOCK=cpu). Best and median of `rounds` per variant, ms per chunk, GFLOP/s of the
/// median.
enum UNetWinogradDirectGEMM {
    static let rounds = 30

    static func report(_ o: UNetBenchOptions) -> String {
        guard dro_cpu_has_avx512() != 0 else { return "f43direct GEMMs: this CPU lacks AVX-512\n" }
        var text = "F(4,3) forward GEMMs per chunk: OpenBLAS | packed | direct, median (best) ms, GFLOP/s of the median\n"
        let evict = UnsafeMutablePointer<Float>.allocate(capacity: 1 << 21)
        defer { evict.deallocate() }
        var shapes: [(String, Int, Int, Int)] = []   // name, M, K, tilesW
        for (name, g) in UNetWinogradPhases.layers(o) where g.inD >= 24 && g.inChannels <= 128
            && (UNetWinogradPhases.layerFilter.map { parts in parts.contains { name.contains($0) } } ?? true) {
            let tilesW = (g.inW + 3) / 4
            shapes.append((name + " fwd", g.outChannels, g.inChannels, tilesW))
            if g.inChannels != g.outChannels { shapes.append((name + " dx", g.inChannels, g.outChannels, tilesW)) }
        }
        for (name, m, k, tilesW) in shapes {
            let tiles = max(1, 64 / tilesW) * tilesW
            let xiStride = (tiles + 31) / 32 * 32 + 16, ld = 216 * xiStride + 16
            let data = UnsafeMutablePointer<Float>.allocate(capacity: k * ld)
            let products = UnsafeMutablePointer<Float>.allocate(capacity: m * ld)
            let u = UnsafeMutablePointer<Float>.allocate(capacity: 216 * m * k)
            let packed = UnsafeMutablePointer<Float>.allocate(capacity: 216 * m * k)
            defer { data.deallocate(); products.deallocate(); u.deallocate(); packed.deallocate() }
            for i in 0..<(216 * m * k) { u[i] = Float(i % 13) * 0.01 - 0.06 }
            packed.update(from: u, count: 216 * m * k)
            dro_winograd_pack_weights(packed, m, k, 216)
            var times = [[Double]](repeating: [], count: 3)
            for round in 0..<(3 * (rounds + 1)) {
                let variant = round % 3
                evict.initialize(repeating: Float(round), count: 1 << 21)
                for c in 0..<k { for xi in 0..<216 {
                    let row = data + c * ld + xi * xiStride
                    for t in 0..<tiles { row[t] = Float((c + xi + t) & 7) * 0.125 }
                } }
                let t0 = UNetConvPhases.now()
                switch variant {
                case 0:
                    for xi in 0..<216 {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(tiles), Int32(k), 1,
                                    u + xi * m * k, Int32(k), data + xi * xiStride, Int32(ld), 0,
                                    products + xi * xiStride, Int32(ld))
                    }
                case 1: dro_winograd_gemm_forward_packed_avx512(packed, data, products, m, k, tiles, ld, xiStride, 216)
                default: dro_winograd_gemm_forward_direct_avx512(packed, data, products, m, k, tiles, ld, xiStride, 216)
                }
                let dt = UNetConvPhases.now() - t0
                if round >= 3 { times[variant].append(dt) }
            }
            let gflop = 2.0 * 216 * Double(m * k * tiles) * 1e-9
            text += String(format: "%-27@ M %3d K %3d N %3d", name as NSString, m, k, tiles)
            for v in 0..<3 {
                let sorted = times[v].sorted(), med = sorted[sorted.count / 2]
                text += String(format: " | %7.3f (%7.3f) %5.1f", med, sorted[0], gflop / med * 1e3)
            }
            text += "\n"
        }
        return text
    }
}
