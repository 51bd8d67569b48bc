import Commands
import Evaluation
import Foundation
import NIfTI

/// `dro-bench eval`: dro-eval on one synthetic 256³ pair with three labels, against MedPy's
/// dc + hd95 + assd on the same files run back to back by scripts/bench_eval_medpy.py.
public enum EvalBenchmark {
    /// The benchmark volume: 256³, three labels.
    public static let defaultSize = 256
    /// Anisotropic spacing typical of fetal MRI reconstructions (docs/method.md §8: 0.5–0.8 mm),
    /// with a thicker third axis.
    static let spacing = [0.8, 0.8, 1.2]
    static let labels: [Int32] = [1, 2, 3]

    public struct Options {
        public var size = defaultSize
        public var seed: UInt64 = 1
        public var python = "python3"
        public var medpyScript = "scripts/bench_eval_medpy.py"
        public var repeats = 1
        public init() {}
    }

    /// Runs the benchmark and returns the report text.
    public static func run(_ o: Options) throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("dro-bench-eval-\(ProcessInfo.processInfo.processIdentifier)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gtPath = dir + "/gt.nii.gz", predPath = dir + "/pred.nii.gz"
        let shape = [o.size, o.size, o.size]
        var rng = EvalBlobGenerator(seed: o.seed)
        let (gt, pred) = rng.pair(shape: shape)
        let reference = NIfTIImage(shape: shape, spacing: spacing, values: [Float](repeating: 0, count: gt.count))
        try NIfTIImage.like(reference, shape: shape, labels: gt).write(to: gtPath)
        try NIfTIImage.like(reference, shape: shape, labels: pred).write(to: predPath)

        var lines = ["dro-bench eval: one \(o.size)³ pair, labels 1,2,3, spacing \(spacing) mm, "
            + "\(ProcessInfo.processInfo.activeProcessorCount) core(s), .nii.gz in \(dir)"]
        var options = EvalOptions(pred: predPath, gt: gtPath)
        options.labels = labels.map(String.init).joined(separator: ",")
        // Read-only time: both files decoded the way dro-eval reads them.
        let readTime = try bestOf(o.repeats) {
            _ = try NIfTIImage.read(path: gtPath).floatValues()
            _ = try NIfTIImage.read(path: predPath).floatValues()
        }
        var results: EvaluationResults?
        let ours = try bestOf(o.repeats) { results = try EvalCommand.evaluate(options) }
        guard let results, results.caseErrors.isEmpty else {
            throw EvaluationError.unreadable(path: dir, reason: "benchmark pair could not be scored")
        }
        lines.append(String(format: "dro-eval  total %.3f s (of which NIfTI read ≈ %.3f s), Dice+HD+HD95+ASSD per label",
                            ours, readTime))
        for (l, label) in results.labels.enumerated() {
            let m = results.cases[0].metrics[0][l]
            lines.append(String(format: "  label %d: dice %.6f  hd95 %.4f  assd %.4f  (n_gt %d, n_pred %d)",
                                label.value, m.dice, m.hd95, m.assd, m.nGT, m.nPred))
        }
        if let medpy = runMedPy(o, pred: predPath, gt: gtPath) {
            lines.append(String(format: "MedPy     total %.3f s (load %.3f s, dc+hd95+assd %.3f s)",
                                medpy.total, medpy.load, medpy.metrics))
            lines.append(String(format: "ratio dro-eval / MedPy = %.3f (target ≤ 0.2); metrics only ≈ %.3f",
                                ours / medpy.total, (ours - readTime) / medpy.metrics))
            // MedPy's hd95 is the pooled definition: rescore in that mode for the agreement check.
            let pooled = try? EvalCommand.evaluate(withPooled(options))
            for (l, label) in results.labels.enumerated() {
                guard let ref = medpy.labels["\(label.value)"] else { continue }
                let m = results.cases[0].metrics[0][l]
                let ourPooled = pooled?.cases.first?.metrics[0][l].hd95 ?? .nan
                lines.append(String(format: "  label %d vs MedPy: |Δdice| %.2e  |Δassd| %.2e mm  |Δhd95 pooled| %.2e mm",
                                    label.value, abs(m.dice - ref.dice), abs(m.assd - ref.assd),
                                    abs(ourPooled - ref.hd95)))
            }
        } else {
            lines.append("MedPy not run (\(o.python) with medpy/nibabel or \(o.medpyScript) unavailable): "
                + "our time only, no ratio")
        }
        return lines.joined(separator: "\n")
    }

    static func withPooled(_ o: EvalOptions) -> EvalOptions {
        var p = o
        p.hd95Mode = .pooled
        return p
    }

    static func bestOf(_ repeats: Int, _ body: () throws -> Void) throws -> Double {
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    struct MedPyTiming {
        var total: Double, load: Double, metrics: Double
        var labels: [String: (dice: Double, hd95: Double, assd: Double)]
    }

    /// Runs the MedPy script; nil when python, medpy or the script is missing or it fails.
    static func runMedPy(_ o: Options, pred: String, gt: String) -> MedPyTiming? {
        guard let json = runReferenceScript(python: o.python, script: o.medpyScript,
                                            arguments: [pred, gt, "--labels", labels.map(String.init).joined(separator: ",")]),
              let total = json["seconds"] as? Double, let load = json["load_seconds"] as? Double,
              let metrics = json["metric_seconds"] as? Double,
              let perLabel = json["labels"] as? [String: [String: Double]] else { return nil }
        var labelValues: [String: (dice: Double, hd95: Double, assd: Double)] = [:]
        for (k, v) in perLabel {
            labelValues[k] = (v["dice"] ?? .nan, v["hd95"] ?? .nan, v["assd"] ?? .nan)
        }
        return MedPyTiming(total: total, load: load, metrics: metrics, labels: labelValues)
    }
}
