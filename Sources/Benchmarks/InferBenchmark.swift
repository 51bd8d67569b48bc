#if canImport(Glibc)
import Common
import DataPipeline
import Foundation
import Glibc
import Inference
import Model
import Tensor
#endif

/// `dro-bench infer`: seconds per volume of dro-infer's sliding window on the reference network
/// (docs/method.md §4: 1 → 4 classes, features [16, 32, 64, 128], random weights; a 96×112×96 volume,
/// 64³ windows, 50 % overlap, Gaussian σ = patch/8), without and with mirroring TTA, against
/// `scripts/bench_torch_unet.py --infer` run back to back (same rule: `SlidingWindow.starts`,
/// Gaussian weights, one window per forward). Also the whole pipeline of one case (crop, z-score,
/// windows, softmax, restore, argmax) and the process's peak RSS.
public enum InferBenchmark {
    public struct Options: Sendable {
        /// Memory order D×H×W (the torch script's volume is [1, 96, 112, 96]).
        public var volume = [96, 112, 96]
        public var patch = 64
        public var features = [16, 32, 64, 128]
        public var overlap = SlidingWindow.defaultOverlap
        public var batch = 1
        public var threads = 2
        /// Timed runs without TTA (median); TTA is timed `ttaRuns` times (8 forwards per window).
        public var runs = 3
        public var ttaRuns = 1
        public var torchScript = "scripts/bench_torch_unet.py"
        public var python = "python3"
        public var json = false
        public init() {}
    }

    struct TorchTiming { var seconds: Double; var peakRSS: Double; var version: String }

    public static func run(_ o: Options) throws -> String {
        Parallel.configure(threads: o.threads)
        var rng = SplitMix64(seed: 2026)
        let network = try UNet3D(options: UNet3DOptions(features: o.features), threads: o.threads, rng: &rng)
        let shape = GridShape(d: o.volume[0], h: o.volume[1], w: o.volume[2])
        let image = (0..<shape.count).map { _ in Float.random(in: -1..<1, using: &rng) }
        let patch = [o.patch, o.patch, o.patch]
        var settings = InferenceSettings()
        settings.overlap = o.overlap
        settings.batch = o.batch
        let windows = SlidingWindow(patch: patch, overlap: o.overlap).windowStarts(spatial: o.volume.map { max($0, o.patch) }).count

        func time(tta: Bool, runs: Int) throws -> [Double] {
            let model = WindowModel(network: network, patch: patch, tta: tta)
            return try (0..<runs).map { _ in
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try VolumeSegmenter.slidingWindowLogits(image, shape: shape, model: model, settings: settings)
                return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
        }
        if o.runs > 1 { _ = try time(tta: false, runs: 1) }   // warm-up: allocations, OpenBLAS threads
        let plain = try time(tta: false, runs: o.runs)
        let mirrored = o.ttaRuns > 0 ? try time(tta: true, runs: o.ttaRuns) : []

        // The whole case as dro-infer runs it (minus file I/O): a non-zero box inside a zero border.
        var caseImage = [Float](repeating: 0, count: shape.count)
        for z in 2..<(shape.d - 2) { for y in 2..<(shape.h - 2) { for x in 2..<(shape.w - 2) {
            caseImage[shape.index(z, y, x)] = image[shape.index(z, y, x)] + 2
        }}}
        let volume = try CaseVolume(id: "bench", channels: 1, shape: shape, image: caseImage, label: nil,
                                    spacing: Spacing(isotropic: 1))
        let pipelineStart = DispatchTime.now().uptimeNanoseconds
        _ = try VolumeSegmenter.segment(volume, models: [WindowModel(network: network, patch: patch, tta: false)],
                                        preprocessing: PreprocessingOptions(), labelValues: [0, 1, 2, 3], settings: settings)
        let pipeline = Double(DispatchTime.now().uptimeNanoseconds - pipelineStart) / 1e9
        let rss = peakRSSMegabytes()

        let torch = runTorch(o)
        let ours = median(plain), oursTTA = mirrored.isEmpty ? Double.nan : median(mirrored)
        var result: [String: Any] = [
            "volume_dhw": o.volume, "patch": o.patch, "features": o.features, "overlap": o.overlap, "batch": o.batch,
            "threads": o.threads, "windows": windows, "blas_core": Parallel.blasCoreName, "blas_threads": Parallel.blasThreading.rawValue,
            "seconds": plain, "seconds_median": ours, "tta_seconds": mirrored, "tta_seconds_median": oursTTA,
            "pipeline_seconds": pipeline, "peak_rss_mb": rss,
        ]
        var lines = [
            "dro-bench infer: \(o.volume.map(String.init).joined(separator: "×")) volume, \(windows) windows of \(o.patch)³ "
                + "(overlap \(o.overlap)), batch \(o.batch), features \(o.features), \(o.threads) threads, OpenBLAS \(Parallel.blasCoreName), \(Parallel.blasThreading.description)",
            String(format: "  dro-infer sliding window: %.3f s per volume (median of %d)", ours, plain.count),
            mirrored.isEmpty ? "  TTA not timed"
                : String(format: "  with TTA (8 mirrorings):  %.3f s per volume (%.2f× plain)", oursTTA, oursTTA / ours),
            String(format: "  whole case (crop, z-score, windows, softmax, restore, argmax): %.3f s", pipeline),
            String(format: "  peak RSS: %.0f MB", rss),
        ]
        if let torch {
            result["torch_seconds_median"] = torch.seconds
            result["torch_peak_rss_mb"] = torch.peakRSS
            result["torch_version"] = torch.version
            result["ratio"] = ours / torch.seconds
            // The torch script has no TTA; TTA is exactly 8 forwards per window, so its
            // reference is 8 × torch's plain time (stitching is <1 % of it).
            result["tta_ratio_vs_8x_torch"] = oursTTA / (8 * torch.seconds)
            lines.append(String(format: "  PyTorch %@ (back to back): %.3f s per volume, peak RSS %.0f MB", torch.version,
                                torch.seconds, torch.peakRSS))
            lines.append(String(format: "  ratio dro-infer / PyTorch: %.2f (target ≤ 1.0); TTA / (8 × PyTorch): %.2f",
                                ours / torch.seconds, oursTTA / (8 * torch.seconds)))
        } else {
            result["torch_seconds_median"] = NSNull()
            lines.append("  PyTorch not run (\(o.python) with torch, or \(o.torchScript), unavailable): dro-infer figures alone")
        }
        if o.json {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
        return lines.joined(separator: "\n")
    }

    /// `python3 bench_torch_unet.py --infer --json` with the same threads and patch; nil when it
    /// cannot run (no torch, no script).
    static func runTorch(_ o: Options) -> TorchTiming? {
        guard FileManager.default.fileExists(atPath: o.torchScript), o.volume == [96, 112, 96] else { return nil }
        guard let json = runReferenceScript(python: o.python, script: o.torchScript, arguments:
                ["--infer", "--json", "--threads", "\(o.threads)", "--patch", "\(o.patch)",
                 "--features", o.features.map(String.init).joined(separator: ","), "--infer-runs", "\(max(2, o.runs))"]),
              let seconds = json["infer_seconds_median"] as? Double else { return nil }
        return TorchTiming(seconds: seconds, peakRSS: json["peak_rss_mb"] as? Double ?? .nan,
                           version: json["torch"] as? String ?? "?")
    }


}
