import Common
import CBLAS
import Dispatch
import XCTest
@testable import Tensor

/// Speed of WinogradConv3d against a plain tiled im2col + sgemm, back to back in one process, on
/// the stride-1 3×3×3 layers of the bench U-Net (docs/method.md §4: batch 2, patch 64³, features
/// 16/32/64/128). Runs only with DRO_WINOGRAD_BENCH=1 in a release build:
///   DRO_WINOGRAD_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter WinogradBenchmark
/// It prints ratios and asserts nothing about speed (speed is never asserted in tests); it does
/// check that both paths agree, so a fast wrong kernel cannot look good.
final class WinogradBenchmarkTests: XCTestCase {
    struct Layer { let name: String; let cin, cout, size: Int }

    /// Every stride-1 3×3×3 conv of the bench U-Net (encoder, then decoder after concatenation).
    static let layers = [
        Layer(name: "enc1a", cin: 1, cout: 16, size: 64), Layer(name: "enc1b", cin: 16, cout: 16, size: 64),
        Layer(name: "enc2b", cin: 32, cout: 32, size: 32), Layer(name: "enc3b", cin: 64, cout: 64, size: 16),
        Layer(name: "enc4b", cin: 128, cout: 128, size: 8),
        Layer(name: "dec3a", cin: 128, cout: 64, size: 16), Layer(name: "dec3b", cin: 64, cout: 64, size: 16),
        Layer(name: "dec2a", cin: 64, cout: 32, size: 32), Layer(name: "dec2b", cin: 32, cout: 32, size: 32),
        Layer(name: "dec1a", cin: 32, cout: 16, size: 64), Layer(name: "dec1b", cin: 16, cout: 16, size: 64),
    ]
    static let batch = 2
    static let environment = ProcessInfo.processInfo.environment
    /// Threads (docs/method.md §4: 2); DRO_WINOGRAD_THREADS overrides.
    static let threads = Int(environment["DRO_WINOGRAD_THREADS"] ?? "") ?? 2
    /// DRO_WINOGRAD_CLOCK=cpu times process CPU time instead of wall time: on a shared, overloaded
    /// machine it measures work done rather than the share of the cores we were given (it counts
    /// OpenBLAS's spinning threads too, so it is most meaningful with 1 thread).
    static let cpuClock = environment["DRO_WINOGRAD_CLOCK"] == "cpu"
    /// Repeats per measurement; the minimum is reported (the machine is shared and noisy).
    static let repeats = Int(environment["DRO_WINOGRAD_REPEATS"] ?? "") ?? 3

    static func now() -> Double {
        if cpuClock {
            var t = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
        }
        return Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
    }

    /// Best time of each body over `repeats` rounds, the bodies taking turns within a round so a
    /// change of machine load hits all of them alike.
    static func alternating(_ bodies: [() -> Void]) -> [Double] {
        var best = [Double](repeating: .infinity, count: bodies.count)
        for _ in 0..<repeats {
            for (i, body) in bodies.enumerated() {
                let t0 = now()
                body()
                best[i] = min(best[i], now() - t0)
            }
        }
        return best
    }

    static func seconds(_ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = now()
            body()
            best = min(best, now() - t0)
        }
        return best
    }

    func testWinogradVersusIm2colSpeed() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["DRO_WINOGRAD_BENCH"] == "1",
                          "set DRO_WINOGRAD_BENCH=1 to run the Winograd benchmark")
        Parallel.configure(threads: Self.threads)
        print("OpenBLAS core: \(Parallel.blasCoreName), Winograd GEMMs \(WinogradGEMM.automatic.rawValue), "
              + "threads \(Self.threads), batch \(Self.batch), "
              + "clock \(Self.cpuClock ? "process CPU" : "wall"), best of \(Self.repeats)")
        let variants: [(String, WinogradTuning)] = [
            ("workers", WinogradTuning(threading: .workersOwnChunks, threads: Self.threads)),
            ("blas", WinogradTuning(threading: .blasThreads, threads: Self.threads)),
        ]
        let filter = Self.environment["DRO_WINOGRAD_LAYERS"]
        let ops = (Self.environment["DRO_WINOGRAD_OPS"] ?? "fwd,bwdX,bwdW").split(separator: ",").map(String.init)
        var totals = [String: (wino: Double, im2col: Double)]()
        print("layer  cin cout size | op  | im2col GF/s | " + variants.map { "\($0.0) GF/s  ×" }.joined(separator: " | "))
        // DRO_WINOGRAD_SHAPES="cin:cout:size,…" adds layers outside the bench network (thresholds).
        let extra = (Self.environment["DRO_WINOGRAD_SHAPES"] ?? "").split(separator: ",").compactMap { spec -> Layer? in
            let v = spec.split(separator: ":").compactMap { Int($0) }
            return v.count == 3 ? Layer(name: "x\(v[0])-\(v[1])", cin: v[0], cout: v[1], size: v[2]) : nil
        }
        let selected = Self.layers.filter { filter == nil || filter!.split(separator: ",").contains(Substring($0.name)) }
        for layer in selected + extra {
            let voxels = layer.size * layer.size * layer.size
            let n = Self.batch
            var rng = SplitMix64(seed: 7)
            let x = rng.values(n * layer.cin * voxels), dy = rng.values(n * layer.cout * voxels)
            let w = rng.values(layer.cout * layer.cin * 27), bias = rng.values(layer.cout)
            var out = [Float](repeating: 0, count: n * max(layer.cin, layer.cout) * voxels)
            var ref = out
            var dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: layer.cout)
            let flops = 2.0 * Double(layer.cout * layer.cin * 27 * n * voxels)
            let ws = Workspace(), wsRef = Workspace()
            let s = layer.size
            for op in ops {
                if op == "bwdX" && layer.cin == 1 { continue }   // the image needs no gradient
                let baselineRun = {
                    switch op {
                    case "fwd": Im2colReference.forward(x: x, w: w, bias: bias, y: &ref, n: n, cin: layer.cin,
                                                        cout: layer.cout, size: s, workspace: wsRef)
                    case "bwdX": Im2colReference.backwardInput(dy: dy, w: w, dx: &ref, n: n, cin: layer.cin,
                                                               cout: layer.cout, size: s, workspace: wsRef)
                    default: Im2colReference.backwardWeight(x: x, dy: dy, dw: &dw, n: n, cin: layer.cin,
                                                            cout: layer.cout, size: s, workspace: wsRef)
                    }
                }
                let variantRuns = variants.map { _, tuning in
                    {
                        switch op {
                        case "fwd": WinogradConv3d.forward(x: x, weight: w, bias: bias, y: &out, n: n, cin: layer.cin,
                                                           cout: layer.cout, d: s, h: s, width: s, workspace: ws,
                                                           tuning: tuning)
                        case "bwdX": WinogradConv3d.backwardInput(dy: dy, weight: w, dx: &out, n: n, cin: layer.cin,
                                                                  cout: layer.cout, d: s, h: s, width: s,
                                                                  workspace: ws, tuning: tuning)
                        default: WinogradConv3d.backwardWeight(x: x, dy: dy, dweight: &dw, dbias: &db, n: n,
                                                               cin: layer.cin, cout: layer.cout, d: s, h: s,
                                                               width: s, workspace: ws, tuning: tuning)
                        }
                    }
                }
                let times = Self.alternating([baselineRun] + variantRuns)
                let baseline = times[0]
                var line = String(format: "%@ %4d %4d %4d | %@ | %7.1f", layer.name, layer.cin, layer.cout, s,
                                  op.padding(toLength: 4, withPad: " ", startingAt: 0), flops / baseline / 1e9)
                for ((name, tuning), t) in zip(variants, times.dropFirst()) {
                    line += String(format: " | %7.1f %5.2f", flops / t / 1e9, baseline / t)
                    if op == "fwd" {
                        let g = Self.forwardGemmSeconds(layer: layer, tuning: tuning, workspace: ws)
                        line += String(format: " (GEMMs %.0f%%)", 100 * g / t)
                    }
                    let key = "\(op) \(name)"
                    totals[key] = ((totals[key]?.wino ?? 0) + t, (totals[key]?.im2col ?? 0) + baseline)
                }
                print(line)
                if op != "bwdW" {
                    // Both paths must agree (1e-4 of the largest value, as in WinogradConv3dTests).
                    let count = n * (op == "fwd" ? layer.cout : layer.cin) * voxels
                    let scale = ref[0..<count].map { abs($0) }.max()!
                    let diff = zip(out[0..<count], ref[0..<count]).map { abs($0 - $1) }.max()!
                    XCTAssertLessThan(diff / scale, 1e-4, "\(layer.name) \(op)")
                }
            }
        }
        for (key, value) in totals.sorted(by: { $0.key < $1.key }) {
            print(String(format: "total %@: winograd %.3f s, im2col %.3f s, ratio %.2f×",
                         key, value.wino, value.im2col, value.im2col / value.wino))
        }
    }

    /// Time of the forward pass's 64 GEMMs per chunk alone, same plan, threading and GEMM kernel
    /// (`WinogradGEMM`; DRO_WINOGRAD_GEMM=blas|avx2|avx512 picks it), operands left in
    /// the workspace by a previous forward call (real values, no denormals).
    static func forwardGemmSeconds(layer: Layer, tuning: WinogradTuning, workspace: Workspace) -> Double {
        let s = layer.size, cin = layer.cin, cout = layer.cout
        let plan = WinogradPlan(batch: batch, d: s, h: s, w: s, channels: cin + cout, tuning: tuning)
        let scratch = WinogradWorkerScratch.carve(plan: plan, dataChannels: cin, productChannels: cout,
                                                  accumulatorFloats: 0, count: plan.threads,
                                                  workspace: workspace, slot: 1)
        let u = workspace.buffer(0, count: 64 * cout * cin)
        let xiStride = plan.componentStride, ld = plan.channelStride
        return seconds {
            WinogradChunkDriver.run(
                plan: plan, threading: tuning.threading, scratch: scratch, inputItems: 0, outputItems: 0,
                fixedAssignment: false,
                transformIn: { _, _, _, _, _ in },
                gemms: { tiles, buffers in
                    WinogradGEMM.forward(tuning.gemmKernel(rows: cout), u: u, data: buffers.data, products: buffers.products,
                                         cout: cout, cin: cin, tiles: tiles, ld: ld, xiStride: xiStride)
                },
                transformOut: { _, _, _, _, _ in })
        }
    }

    /// Chunk-size sweep for one layer (DRO_WINOGRAD_SWEEP=name), workers-own-chunks threading.
    /// The instance-norm statistics gathered in the output stage against the separate pass over
    /// the conv output (`InstanceNorm3d.statistics`), per layer: forward alone, forward with the
    /// statistics, forward then the separate pass, taking turns. Prints ms; asserts nothing.
    func testFusedNormStatisticsSpeed() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["DRO_WINOGRAD_BENCH"] == "1",
                          "set DRO_WINOGRAD_BENCH=1 to run the Winograd benchmark")
        Parallel.configure(threads: Self.threads)
        print("norm statistics: threads \(Self.threads), clock \(Self.cpuClock ? "process CPU" : "wall"), best of \(Self.repeats)")
        print("layer   conv alone   conv + fused stats   conv + separate pass   (ms)")
        for layer in Self.layers where WinogradConv3d.isProfitable(cin: layer.cin, cout: layer.cout) {
            let n = Self.batch, v = layer.size * layer.size * layer.size
            let x = FloatBuffer(count: n * layer.cin * v), w = FloatBuffer(count: layer.cout * layer.cin * 27)
            let y = FloatBuffer(count: n * layer.cout * v)
            for i in 0..<x.count { x[i] = Float(i % 13) * 0.1 - 0.6 }
            for i in 0..<w.count { w[i] = Float(i % 7) * 0.02 - 0.06 }
            let mean = FloatBuffer(count: n * layer.cout), rstd = FloatBuffer(count: n * layer.cout)
            let ws = Workspace()
            let stats = WinogradNormStatistics(mean: mean.pointer, rstd: rstd.pointer, eps: 1e-5)
            func conv() {
                WinogradConv3d.forward(x: x.pointer, weight: w.pointer, bias: nil, y: y.pointer, n: n, cin: layer.cin,
                                       cout: layer.cout, d: layer.size, h: layer.size, width: layer.size, workspace: ws)
            }
            let t = Self.alternating([
                { conv() },
                { WinogradConv3d.forward(x: x.pointer, weight: w.pointer, bias: nil, y: y.pointer, n: n, cin: layer.cin,
                                         cout: layer.cout, d: layer.size, h: layer.size, width: layer.size, workspace: ws,
                                         statistics: stats) },
                { conv(); InstanceNorm3d.statistics(x: y.pointer, rows: n * layer.cout, voxels: v, eps: 1e-5,
                                                    mean: mean.pointer, rstd: rstd.pointer, threads: Self.threads) },
            ])
            print(String(format: "%@  %8.2f  %8.2f (+%5.2f)  %8.2f (+%5.2f)", layer.name as NSString, t[0] * 1e3,
                         t[1] * 1e3, (t[1] - t[0]) * 1e3, t[2] * 1e3, (t[2] - t[0]) * 1e3))
        }
    }

    func testChunkSizeSweep() throws {
        guard let name = ProcessInfo.processInfo.environment["DRO_WINOGRAD_SWEEP"],
              let layer = Self.layers.first(where: { $0.name == name }) else {
            throw XCTSkip("set DRO_WINOGRAD_SWEEP=<layer name> to sweep chunk sizes")
        }
        Parallel.configure(threads: Self.threads)
        let n = Self.batch, s = layer.size, voxels = s * s * s
        var rng = SplitMix64(seed: 8)
        let x = rng.values(n * layer.cin * voxels), w = rng.values(layer.cout * layer.cin * 27)
        var y = [Float](repeating: 0, count: n * layer.cout * voxels)
        let flops = 2.0 * Double(layer.cout * layer.cin * 27 * n * voxels)
        let ws = Workspace()
        for kib in [256, 512, 1024, 2048, 4096, 8192] {
            for minimum in [32, 128, 512] {
                let tuning = WinogradTuning(chunkBytes: kib << 10, minimumChunkTiles: minimum,
                                            threading: .workersOwnChunks, threads: Self.threads)
                let t = Self.seconds {
                    WinogradConv3d.forward(x: x, weight: w, bias: nil, y: &y, n: n, cin: layer.cin, cout: layer.cout,
                                           d: s, h: s, width: s, workspace: ws, tuning: tuning)
                }
                print(String(format: "%@ chunk %5d KiB min %4d tiles: %.1f GF/s", name, kib, minimum, flops / t / 1e9))
            }
        }
    }
}

/// The comparison path: im2col + one sgemm per tile of whole voxel rows (~4096 voxels, faster
/// than one whole-volume call: docs/performance.md, "Reference figures"), per sample, OpenBLAS
/// threads for the GEMMs and `Parallel.forEach` for im2col/col2im. Cubic volumes only (size³),
/// stride 1, padding 1.
enum Im2colReference {
    /// Voxels per column tile (docs/performance.md, "Reference figures": 4096-column tiles).
    static let tileVoxels = 4096

    static func tileRows(size: Int) -> Int { max(1, tileVoxels / (size * size)) * size }

    /// col[k = ci·27 + tap][j] = x[ci][voxel (p0 + j) shifted by tap], zero outside.
    static func im2col(_ x: UnsafePointer<Float>, cin: Int, size s: Int, p0: Int, count: Int,
                       col: UnsafeMutablePointer<Float>) {
        Parallel.forEach(count: cin * 27) { k in
            let ci = k / 27, tap = k % 27
            let (kz, ky, kx) = (tap / 9 - 1, tap / 3 % 3 - 1, tap % 3 - 1)
            let plane = x + ci * s * s * s, dst = col + k * count
            var j = 0
            while j < count {
                let p = p0 + j, z = p / (s * s), y = p / s % s
                let (iz, iy) = (z + kz, y + ky)
                if iz < 0 || iz >= s || iy < 0 || iy >= s {
                    for xx in 0..<s { dst[j + xx] = 0 }
                } else {
                    let src = plane + (iz * s + iy) * s
                    for xx in 0..<s { let ix = xx + kx; dst[j + xx] = ix >= 0 && ix < s ? src[ix] : 0 }
                }
                j += s
            }
        }
    }

    static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        y: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int, size s: Int, workspace: Workspace) {
        let voxels = s * s * s, k = cin * 27, tile = min(voxels, tileRows(size: s) * s)
        let col = workspace.buffer(0, count: k * tile)
        for b in 0..<n {
            var p0 = 0
            while p0 < voxels {
                let count = min(tile, voxels - p0)
                im2col(x + b * cin * voxels, cin: cin, size: s, p0: p0, count: count, col: col)
                let out = y + b * cout * voxels + p0
                for co in 0..<cout { (out + co * voxels).update(repeating: bias[co], count: count) }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(cout), Int32(count), Int32(k),
                            1, w, Int32(k), col, Int32(count), 1, out, Int32(voxels))
                p0 += count
            }
        }
    }

    static func backwardInput(dy: UnsafePointer<Float>, w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                              n: Int, cin: Int, cout: Int, size s: Int, workspace: Workspace) {
        let voxels = s * s * s, k = cin * 27, tile = min(voxels, tileRows(size: s) * s)
        let col = workspace.buffer(0, count: k * tile)
        dx.update(repeating: 0, count: n * cin * voxels)
        for b in 0..<n {
            var p0 = 0
            while p0 < voxels {
                let count = min(tile, voxels - p0)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(count), Int32(cout),
                            1, w, Int32(k), dy + b * cout * voxels + p0, Int32(voxels), 0, col, Int32(count))
                // col2im: each input channel's plane is written by one worker only.
                Parallel.forEach(count: cin) { ci in
                    let plane = dx + (b * cin + ci) * voxels
                    for tap in 0..<27 {
                        let (kz, ky, kx) = (tap / 9 - 1, tap / 3 % 3 - 1, tap % 3 - 1)
                        let src = col + (ci * 27 + tap) * count
                        var j = 0
                        while j < count {
                            let p = p0 + j, z = p / (s * s), y = p / s % s
                            let (iz, iy) = (z + kz, y + ky)
                            if iz >= 0 && iz < s && iy >= 0 && iy < s {
                                let dst = plane + (iz * s + iy) * s
                                for xx in 0..<s { let ix = xx + kx; if ix >= 0 && ix < s { dst[ix] += src[j + xx] } }
                            }
                            j += s
                        }
                    }
                }
                p0 += count
            }
        }
    }

    static func backwardWeight(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>,
                               n: Int, cin: Int, cout: Int, size s: Int, workspace: Workspace) {
        let voxels = s * s * s, k = cin * 27, tile = min(voxels, tileRows(size: s) * s)
        let col = workspace.buffer(0, count: k * tile)
        for b in 0..<n {
            var p0 = 0
            while p0 < voxels {
                let count = min(tile, voxels - p0)
                im2col(x + b * cin * voxels, cin: cin, size: s, p0: p0, count: count, col: col)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(cout), Int32(k), Int32(count),
                            1, dy + b * cout * voxels + p0, Int32(voxels), col, Int32(count), 1, dw, Int32(k))
                p0 += count
            }
        }
    }
}
