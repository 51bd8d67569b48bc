import Common
import XCTest
@testable import Tensor

/// Speed of the AVX2 and AVX-512 Winograd transforms against the Swift kernels, each alone, on a 64³ layer of
/// the bench U-Net (batch 2, 16 channels, chunks planned as for a 16 → 16 layer), 1 thread,
/// thread CPU time, Swift and C taking turns, best of DRO_WINOGRAD_REPEATS (default 7). Prints ns
/// per tile and channel; asserts nothing about speed. Runs only with DRO_WINOGRAD_BENCH=1:
///   DRO_WINOGRAD_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter WinogradTransformCBenchmark
final class WinogradTransformCBenchmarkTests: XCTestCase {
    /// The bench network's 64³ layers (docs/method.md §4): batch 2, 16 channels per side.
    static let size = 64, batch = 2, channels = 16
    static let repeats = Int(ProcessInfo.processInfo.environment["DRO_WINOGRAD_REPEATS"] ?? "") ?? 7

    static func threadSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Best time of each body over `repeats` rounds, the bodies alternating within a round.
    static func alternating(_ bodies: [() -> Void]) -> [Double] {
        var best = [Double](repeating: .infinity, count: bodies.count)
        for _ in 0..<repeats {
            for (i, body) in bodies.enumerated() {
                let t0 = threadSeconds()
                body()
                best[i] = min(best[i], threadSeconds() - t0)
            }
        }
        return best
    }

    func testTransformSpeed() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["DRO_WINOGRAD_BENCH"] == "1",
                          "set DRO_WINOGRAD_BENCH=1 to run the transform benchmark")
        try XCTSkipUnless(CPUFeatures.avx2FMA, "no AVX2 + FMA")
        let s = Self.size, c = Self.channels, n = Self.batch
        let plan = WinogradPlan(batch: n, d: s, h: s, w: s, channels: 2 * c,
                                tuning: WinogradTuning(threading: .workersOwnChunks, threads: 1))
        var rng = SplitMix64(seed: 3)
        let volume = rng.values(n * c * plan.planeSize)
        // Chunk and output buffers 64-byte aligned, as WinogradWorkerScratch carves them (an
        // array's 16-byte alignment splits half the C kernels' 32-byte stores over two lines).
        func aligned(_ count: Int) -> UnsafeMutablePointer<Float> {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.size, alignment: 64)
            return raw.initializeMemory(as: Float.self, repeating: 0, count: count)
        }
        let chunk = aligned(plan.chunkFloats(channels: c)), output = aligned(n * c * plan.planeSize)
        let products = aligned(plan.chunkFloats(channels: c))
        products.update(from: rng.values(plan.chunkFloats(channels: c)), count: plan.chunkFloats(channels: c))
        defer { chunk.deallocate(); output.deallocate(); products.deallocate() }
        var lines = [Float](repeating: 0, count: max(WinogradInputTransform.scratchFloats(tilesW: plan.tilesW),
                                                     8 * winogradLineLength(tilesW: plan.tilesW)))
        var edge = [Float](repeating: 0, count: 4 * WinogradLanes.scalarCount)
        let xi = plan.componentStride, ld = plan.channelStride

        func runInput(_ kernel: WinogradTransformsC.Kernel?) {
            for k in 0..<plan.chunkCount {
                let rows = plan.rowRange(chunk: k)
                for ch in 0..<c {
                    if let kernel {
                        WinogradTransformsC.inputRows(rows, input: volume, channel: ch, channels: c, plan: plan,
                                                      out: chunk + ch * ld, xiStride: xi, lines: &lines, kernel: kernel)
                    } else {
                        WinogradInputTransform.portableRows(rows, input: volume, channel: ch, channels: c, plan: plan,
                                                            out: chunk + ch * ld, xiStride: xi, lines: &lines)
                    }
                }
            }
        }
        func runOutput(_ kernel: WinogradTransformsC.Kernel?) {
            for k in 0..<plan.chunkCount {
                let rows = plan.rowRange(chunk: k)
                for ch in 0..<c { for row in rows {
                    let (sample, td, th) = plan.decode(row: row)
                    let src = UnsafePointer(products) + ch * ld + (row - rows.lowerBound) * plan.rowStride
                    let plane = output + (sample * c + ch) * plan.planeSize
                    if let kernel {
                        WinogradTransformsC.outputRow(src: src, xiStride: xi, plane: plane, d: s, h: s, w: s,
                                                      td: td, th: th, tilesW: plan.tilesW, bias: 0.5, kernel: kernel)
                    } else {
                        WinogradTileTransforms.portableOutputRow(
                            src: src, xiStride: xi, plane: plane, d: s, h: s, w: s, td: td, th: th,
                            tilesW: plan.tilesW, bias: 0.5, edge: &edge, sink: &lines)
                    }
                } }
            }
        }
        func runGradient(_ kernel: WinogradTransformsC.Kernel?) {
            volume.withUnsafeBufferPointer { v in
                for k in 0..<plan.chunkCount {
                    let rows = plan.rowRange(chunk: k)
                    for ch in 0..<c { for row in rows {
                        let (sample, td, th) = plan.decode(row: row)
                        let plane = v.baseAddress! + (sample * c + ch) * plan.planeSize
                        let at = ch * ld + (row - rows.lowerBound) * plan.rowStride
                        if let kernel {
                            WinogradTransformsC.gradientRow(plane: plane, d: s, h: s, w: s, td: td, th: th,
                                                            tilesW: plan.tilesW, out: chunk + at, xiStride: xi,
                                                            lines: &lines, kernel: kernel)
                        } else {
                            WinogradTileTransforms.portableGradientRow(plane: plane, d: s, h: s, w: s, td: td, th: th,
                                                                       tilesW: plan.tilesW, out: chunk + at,
                                                                       xiStride: xi, lines: &lines)
                        }
                    } }
                }
            }
        }
        let perTileChannel = 1e9 / Double(n * plan.tilesD * plan.tilesH * plan.tilesW * c)
        print("64³, batch 2, \(c) channels, \(plan.rowsPerChunk) rows per chunk, thread CPU time, best of \(Self.repeats)")
        for (name, body) in [("input", runInput), ("output", runOutput), ("gradient", runGradient)] {
            let kernels: [WinogradTransformsC.Kernel?] = [nil, .avx2] + (CPUFeatures.avx512 ? [.avx512] : [])
            let t = Self.alternating(kernels.map { k in { body(k) } })
            var line = String(format: "%@ transform, ns per tile and channel: Swift %.1f", name, t[0] * perTileChannel)
            for (k, time) in zip(kernels.dropFirst(), t.dropFirst()) {
                line += String(format: ", %@ %.1f (%.2f×)", "\(k!)", time * perTileChannel, t[0] / time)
            }
            print(line)
        }
    }
}
