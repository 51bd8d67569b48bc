import Common
import Foundation
import Model
import Tensor

/// `dro-bench unet`: training-step and inference timing of the reference U-Net (docs/method.md §4),
/// per-layer profile, the machine's sgemm peak and memory bandwidth (`MemoryBandwidth`) measured
/// in the same run, each Winograd layer's time against its own limit (`WinogradCost`: its GEMM
/// FLOPs at that peak plus its bytes at those bandwidths; docs/performance.md, "Winograd layers
/// against their limit"), and peak RSS.
public struct UNetBenchOptions: Sendable {
    public var features: [Int] = [16, 32, 64, 128]
    /// Per-level kernels and per-downsampling strides, x y z (`model.kernel_sizes`,
    /// `model.pool_strides`); nil: 3×3×3 and 2×2×2.
    public var kernelSizes: [[Int]]?
    public var poolStrides: [[Int]]?
    public var patch: [Int] = [64, 64, 64]
    public var batch = 2
    public var threads = 2
    /// Input channels and output classes of the network (docs/method.md §4: 1 and 4).
    public var inChannels = 1
    public var classes = 4
    /// Timed training steps after `warmup` untimed ones (median reported).
    public var steps = 10
    public var warmup = 2
    /// The inference volume of docs/method.md §4.
    public var inferVolume = [96, 112, 96]
    public var inferRuns = 2
    public enum Mode: String, Sendable, CaseIterable { case train, infer, all }
    public var mode: Mode = .all
    public var json = false
    public var seed: UInt64 = 1
    /// Kernel for the 3×3×3 convolutions.
    public var algorithm: ConvAlgorithm = .auto
    public init() {}

    /// Names accepted for `algorithmName` (for the command line, which sees only this module).
    public static let algorithmNames = ConvAlgorithm.allCases.map(\.rawValue)
    public var algorithmName: String {
        get { algorithm.rawValue }
        set { if let a = ConvAlgorithm(rawValue: newValue) { algorithm = a } }
    }
}

public enum UNetBenchmark {
    /// SGD settings of docs/method.md §4.
    static let learningRate: Float = 0.01, momentum: Float = 0.99, weightDecay: Float = 3e-5
    /// Square sgemm size used for the peak (docs/performance.md, "Reference figures").
    public static let peakSize = 2048

    /// Runs the benchmark; returns the report (text table or JSON).
    public static func run(_ o: UNetBenchOptions) throws -> String {
        Parallel.configure(threads: o.threads)
        // One thread with DRO_BENCH_CLOCK=cpu: the peak and bandwidths in thread CPU time too.
        let peak = sgemmPeakGFLOPs(cpuClock: cpuClock && o.threads == 1)
        let bandwidth = MemoryBandwidth.measure(threads: o.threads, cpuClock: cpuClock && o.threads == 1)
        var rng = SplitMix64(seed: o.seed)
        var networkOptions = UNet3DOptions(inChannels: o.inChannels, classes: o.classes, features: o.features)
        networkOptions.kernelSizes = o.kernelSizes
        networkOptions.poolStrides = o.poolStrides
        let net = try UNet3D(options: networkOptions, threads: o.threads, rng: &rng)
        net.convAlgorithm = o.algorithm
        var result: [String: Any] = [
            "features": o.features, "in_channels": o.inChannels, "classes": o.classes, "patch": o.patch, "batch": o.batch, "threads": o.threads,
            "sgemm_peak_gflops": peak,
            "memory_bandwidth": ["copy_gbs": bandwidth.copyGBs, "triad_gbs": bandwidth.triadGBs,
                                 "cache_triad_gbs": bandwidth.cacheTriadGBs],
            "clock": cpuClock ? "process_cpu" : "wall", "openblas_core": BLASRuntime.coreName, "core_selection": BLASRuntime.selectionName,
            "blas_threads": Parallel.blasThreading.rawValue,
            "kernels": KernelChoice.summary,
            "parameters": net.parameterCount, "conv_algorithm": o.algorithm.rawValue,
        ]
        if o.kernelSizes != nil || o.poolStrides != nil {
            result["kernel_sizes"] = networkOptions.levelKernels
            result["pool_strides"] = networkOptions.levelStrides
        }
        var text = "dro-bench unet: features \(o.features)"
            + (o.kernelSizes != nil || o.poolStrides != nil
               ? " kernels \(networkOptions.levelKernels) pool strides \(networkOptions.levelStrides) (x y z)" : "")
            + ", \(o.inChannels) → \(o.classes) channels, patch \(o.patch), batch \(o.batch), threads \(o.threads), convs \(o.algorithm.rawValue), OpenBLAS core \(BLASRuntime.coreDescription), \(Parallel.blasThreading.description)\n"
            + "kernels: \(KernelChoice.description)\n"
        text += String(format: "sgemm %d² peak: %.1f GFLOP/s; memory (STREAM-like, %d threads): copy %.1f GB/s, triad %.1f GB/s; L2-resident triad %.1f GB/s\n",
                       peakSize, peak, o.threads, bandwidth.copyGBs, bandwidth.triadGBs, bandwidth.cacheTriadGBs)
        if cpuClock { text += "times: process CPU time (DRO_BENCH_CLOCK=cpu)\n" }
        if BLASRuntime.isFallbackCore(BLASRuntime.coreName) {
            // OpenBLAS did not recognise the CPU and kept its pre-AVX kernels (seen on VMs that
            // report a generic CPU model, with DRO_KEEP_OPENBLAS_CORE=1); AVX2 kernels are ~3× faster.
            text += BLASBenchmark.fallbackNote + "\n"
        }
        if o.mode != .infer {
            let (steps, profile) = try trainSteps(net, o, &rng)
            let med = median(steps)
            let rss = peakRSSMegabytes()
            let conv = profile.entries.filter { $0.kind == .conv }
            let convFlops = conv.reduce(0) { $0 + $1.flops }, convSec = conv.reduce(0) { $0 + $1.seconds }
            let convFraction = convFlops / convSec / 1e9 / peak
            result["step_seconds_median"] = med
            result["step_seconds"] = steps
            result["conv_fraction_of_peak"] = convFraction
            result["conv_gflop_per_step"] = convFlops / Double(o.steps) / 1e9
            result["peak_rss_mb"] = rss
            result["activation_mb"] = Double(net.activationFloats * 4) / 1e6
            var layers: [[String: Any]] = []
            text += String(format: "training step: median %.3f s over %d steps (min %.3f, max %.3f)\n", med, steps.count,
                           steps.min()!, steps.max()!)
            text += padded("layer", 30) + " " + padded("path", 17) + " ms/step   GFLOP/s  of peak  limit ms  of limit\n"
            var winogradMs = 0.0, winogradLimitMs = 0.0
            var byTile: [String: (ms: Double, limitMs: Double)] = [:]
            for e in profile.entries {
                let ms = e.seconds / Double(o.steps) * 1e3
                let gf = e.flops > 0 ? e.flops / e.seconds / 1e9 : 0
                var layer: [String: Any] = ["name": e.name, "kind": e.kind.rawValue, "path": e.path, "ms": ms, "gflops": gf,
                                            "fraction_of_peak": gf / peak]
                // Padded in Swift: Foundation on Linux ignores the width of %@.
                text += padded(e.name, 30) + " " + padded(e.path, 17)
                    + String(format: "%8.2f %9.1f %7.0f%%", ms, gf, 100 * gf / peak)
                if let limit = winogradLimit(e, steps: o.steps, threads: o.threads, peak: peak, bandwidth: bandwidth) {
                    layer.merge(limit.json(ms: ms)) { $1 }
                    text += String(format: " %9.2f %8.0f%%", limit.ms, 100 * limit.ms / ms)
                    winogradMs += ms; winogradLimitMs += limit.ms
                    let tile = e.path == "winograd-f43" ? "f43" : "f23"
                    let sum = byTile[tile] ?? (0, 0)
                    byTile[tile] = (sum.ms + ms, sum.limitMs + limit.ms)
                }
                text += "\n"
                layers.append(layer)
            }
            result["layers"] = layers
            // What the step spends outside every row (activation bookkeeping, gradient zeroing,
            // the profiler itself): the mean step minus the rows' sum.
            let rowsMs = profile.entries.reduce(0) { $0 + $1.seconds } / Double(o.steps) * 1e3
            let meanMs = steps.reduce(0, +) / Double(steps.count) * 1e3
            result["rows_ms"] = rowsMs
            result["outside_rows_ms"] = meanMs - rowsMs
            text += String(format: "rows: %.1f ms/step; mean step %.1f ms: %.1f ms outside the rows\n", rowsMs, meanMs,
                           meanMs - rowsMs)
            if winogradMs > 0 {
                result["winograd_ms"] = winogradMs
                result["winograd_limit_ms"] = winogradLimitMs
                for (tile, sum) in byTile {
                    result["winograd_\(tile)_ms"] = sum.ms
                    result["winograd_\(tile)_limit_ms"] = sum.limitMs
                }
                let parts = [("f23", "F(2,3)"), ("f43", "F(4,3)")].compactMap { key, label -> String? in
                    guard let sum = byTile[key] else { return nil }
                    return String(format: "%@ %.1f ms, limit %.1f ms (%.0f%%)", label as NSString, sum.ms, sum.limitMs,
                                  100 * sum.limitMs / sum.ms)
                }
                text += String(format: "winograd layers: %.1f ms/step, limit %.1f ms (%.0f%% of limit; %@); limit = GEMM FLOPs at the sgemm peak + tensor bytes at the triad rate + chunk bytes at the L2 triad rate (docs/performance.md)\n",
                               winogradMs, winogradLimitMs, 100 * winogradLimitMs / winogradMs,
                               parts.joined(separator: ", ") as NSString)
            }
            text += String(format: "conv layers: %.1f GFLOP/step at %.0f%% of sgemm peak\n", convFlops / Double(o.steps) / 1e9, 100 * convFraction)
            text += String(format: "peak RSS after training: %.0f MB (activations + scratch %.0f MB)\n", rss,
                           Double(net.activationFloats * 4) / 1e6)
            net.releaseActivations()
        }
        if o.mode != .train {
            let times = try inference(net, o, &rng)
            result["infer_seconds_median"] = median(times)
            result["infer_seconds"] = times
            result["peak_rss_mb_after_infer"] = peakRSSMegabytes()
            text += String(format: "inference %@ (sliding window %@, 50%% overlap, Gaussian): median %.3f s/volume\n",
                           "\(inferSpatial(o))" as NSString, "\(o.patch)" as NSString, median(times))
            if o.mode == .infer { result["peak_rss_mb"] = peakRSSMegabytes() }
        }
        if o.json {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
        return text
    }

    /// `DRO_BENCH_CLOCK=cpu`: training steps and layers timed in process CPU time (with
    /// `--threads 1`, the run's own time on a machine shared with other jobs).
    static var cpuClock: Bool { ProcessInfo.processInfo.environment["DRO_BENCH_CLOCK"] == "cpu" }

    /// A Winograd layer's limit per training step (`WinogradCost` at this run's rates).
    struct WinogradLimit {
        var cost: WinogradCost
        var gemmMs, memoryMs, cacheMs: Double
        var ms: Double { gemmMs + memoryMs + cacheMs }
        /// Everything at the memory rate (the chunks not counted as cache-resident).
        var allMemoryMs: Double

        func json(ms measured: Double) -> [String: Any] {
            ["limit_ms": ms, "fraction_of_limit": ms / measured, "limit_gemm_ms": gemmMs, "limit_memory_ms": memoryMs,
             "limit_cache_ms": cacheMs, "limit_all_memory_ms": allMemoryMs, "gemm_gflop": cost.gemmFLOPs / 1e9,
             "memory_mb": cost.memoryBytes / 1e6, "cache_mb": cost.cacheBytes / 1e6]
        }
    }

    static func winogradLimit(_ e: LayerProfiler.Entry, steps: Int, threads: Int, peak: Double,
                              bandwidth: MemoryBandwidth) -> WinogradLimit? {
        guard e.kind == .conv, e.path == "winograd" || e.path == "winograd-f43", let g = e.geometry else { return nil }
        let forward = e.name.hasSuffix(" fwd"), f43 = e.path == "winograd-f43"
        let one: WinogradCost
        switch (forward, f43) {
        case (true, false):
            one = WinogradCost.forward(n: g.batch, cin: g.inChannels, cout: g.outChannels, d: g.inD, h: g.inH, w: g.inW,
                                       threads: threads)
        case (false, false):
            one = WinogradCost.backward(n: g.batch, cin: g.inChannels, cout: g.outChannels, d: g.inD, h: g.inH, w: g.inW,
                                        inputGradient: e.inputGradient, threads: threads)
        case (true, true):
            one = WinogradCost.f43Forward(n: g.batch, cin: g.inChannels, cout: g.outChannels, d: g.inD, h: g.inH,
                                          w: g.inW, threads: threads)
        case (false, true):
            one = WinogradCost.f43Backward(n: g.batch, cin: g.inChannels, cout: g.outChannels, d: g.inD, h: g.inH,
                                           w: g.inW, inputGradient: e.inputGradient, threads: threads)
        }
        let perStep = Double(e.calls) / Double(steps)
        let cost = WinogradCost(gemmFLOPs: one.gemmFLOPs * perStep, memoryBytes: one.memoryBytes * perStep,
                                cacheBytes: one.cacheBytes * perStep)
        return WinogradLimit(cost: cost, gemmMs: cost.gemmFLOPs / (peak * 1e9) * 1e3,
                             memoryMs: cost.memoryBytes / (bandwidth.triadGBs * 1e9) * 1e3,
                             cacheMs: cost.cacheBytes / (bandwidth.cacheTriadGBs * 1e9) * 1e3,
                             allMemoryMs: (cost.gemmFLOPs / (peak * 1e9) + (cost.memoryBytes + cost.cacheBytes)
                                           / (bandwidth.triadGBs * 1e9)) * 1e3)
    }

    /// Seconds of each timed training step (forward + loss + backward + SGD step) and the layer profile.
    static func trainSteps(_ net: UNet3D, _ o: UNetBenchOptions, _ rng: inout SplitMix64) throws -> ([Double], LayerProfiler) {
        let v = o.patch.reduce(1, *)
        let x = (0..<(o.batch * o.inChannels * v)).map { _ in Float.random(in: -1..<1, using: &rng) }
        let y = (0..<(o.batch * v)).map { _ in Int32.random(in: 0..<Int32(o.classes), using: &rng) }
        let opt = SGDOptimizer(count: net.parameterCount, learningRate: learningRate, momentum: momentum,
                               nesterov: true, weightDecay: weightDecay)
        let loss = DiceCELoss(), ws = Workspace()
        var dl = [Float](repeating: 0, count: o.batch * o.classes * v)
        let profiler = LayerProfiler(processCPUClock: cpuClock)
        var times: [Double] = []
        for step in 0..<(o.warmup + o.steps) {
            if step == o.warmup { profiler.reset(); net.profiler = profiler }
            let t0 = profiler.now()
            let logits = try x.withUnsafeBufferPointer { try net.forward($0.baseAddress!, batch: o.batch, spatial: o.patch) }
            // The loss and the optimizer step are rows of their own (timed from the first timed step).
            let timed = step >= o.warmup ? profiler : LayerProfiler()
            _ = try timed.time("loss (softmax, Dice+CE, dlogits)") {
                try y.withUnsafeBufferPointer {
                    try loss.evaluate(logits: logits, labels: $0.baseAddress!, batch: o.batch, classes: o.classes, voxels: v,
                                      gradient: &dl, workspace: ws, threads: o.threads)
                }
            }
            try dl.withUnsafeBufferPointer { try net.backward($0.baseAddress!) }
            timed.time("sgd step") {
                opt.step(parameters: net.arena.values.pointer, gradients: net.arena.gradients.pointer, threads: o.threads)
            }
            if step >= o.warmup { times.append(profiler.now() - t0) }
        }
        net.profiler = nil
        return (times, profiler)
    }

    static func inference(_ net: UNet3D, _ o: UNetBenchOptions, _ rng: inout SplitMix64) throws -> [Double] {
        let spatial = inferSpatial(o)
        let vol = (0..<(o.inChannels * spatial.reduce(1, *))).map { _ in Float.random(in: -1..<1, using: &rng) }
        let sw = SlidingWindow(patch: o.patch)
        var times: [Double] = []
        for _ in 0..<max(1, o.inferRuns) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try vol.withUnsafeBufferPointer { try sw.logits(volume: $0.baseAddress!, spatial: spatial, model: net) }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return times
    }

    /// The inference volume, grown on any axis where a config's patch is larger.
    static func inferSpatial(_ o: UNetBenchOptions) -> [Int] { zip(o.inferVolume, o.patch).map { max($0, $1) } }

    /// Best of 5 square sgemm runs after one warm-up, in GFLOP/s, on `Parallel.defaultThreads`
    /// (split over our workers as in the layers, or on OpenBLAS's threads with
    /// `DRO_BLAS_THREADS=openblas`). With `cpuClock` (one thread only: the GEMM then runs on the
    /// calling thread) timed in the thread's CPU time.
    public static func sgemmPeakGFLOPs(size n: Int = peakSize, cpuClock: Bool = false) -> Double {
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
        var best = Double.infinity
        for run in 0..<6 {
            let t0 = benchSeconds(cpu: cpuClock)
            BLAS.matmul(a.pointer, b.pointer, c.pointer, m: n, n: n, k: n)
            let dt = benchSeconds(cpu: cpuClock) - t0
            if run > 0 { best = min(best, dt) }
        }
        return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
    }


}

extension UNetBenchmark {
    /// The one entry point of `dro-bench unet`: dump mode or the benchmark.
    public static func main(_ o: UNetBenchOptions, dump: String?, dumpClasses: Int? = nil, dumpFeatures: [Int]? = nil,
                            convPhases: Bool = false,
                            anisotropic: Bool = false) throws -> String {
        if convPhases {
            // The phase table walks the isotropic network's layers (3×3×3, stride 2).
            guard o.kernelSizes == nil && o.poolStrides == nil else {
                throw UNet3DError.option(name: "--conv-phases", value: "a config with model.kernel_sizes / model.pool_strides",
                                         allowed: "the 3×3×3 / 2×2×2 network only (profile anisotropic networks with the per-layer table of a plain run)")
            }
            return UNetConvPhases.report(o)
        }
        if let dump {
            return try UNetDump.write(to: dump, threads: o.threads, algorithm: o.algorithm, anisotropic: anisotropic,
                                      classes: dumpClasses, features: dumpFeatures)
        }
        return try run(o)
    }
}

/// `s` left-aligned in a field of `width` characters (never truncated).
private func padded(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}
