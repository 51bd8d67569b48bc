import Common
import Config
import DataPipeline
import Foundation
import Training

/// Entry points of training and demo-data generation, called by `TrainCommand`.
public enum TrainingEntry {
    public static func train(_ config: Config, options: TrainOptions, output: CommandOutput) -> Int32 {
        // A config with a `data.demo` section names the built-in phantom: its first use writes it.
        if let demo = config.data.demo, let folder = config.data.dataset,
           !FileManager.default.fileExists(atPath: folder) {
            if !options.quiet { output.out("first use of the demo config: writing the phantom dataset to \(folder)") }
            let status = makeDemoData(folder: folder, demo: demo, quiet: options.quiet, output: output)
            guard status == ExitStatus.ok else { return status }
        }
        let status = TrainRun.run(config, resume: options.resume, quiet: options.quiet, output: output)
        if status == ExitStatus.ok && !options.quiet { output.out(nextSteps(config)) }
        return status
    }

    /// Where the run's outputs are and the commands that use them.
    static func nextSteps(_ config: Config) -> String {
        let run = config.output.dir
        // Without a validation split there is no best checkpoint; the latest is the model.
        let best = FileManager.default.fileExists(atPath: run + "/checkpoint_best.ckpt")
        let model = "\(run)/" + (best ? "checkpoint_best.ckpt" : "checkpoint_latest.ckpt")
        var lines = ["outputs in \(run): " + (best ? "checkpoint_best.ckpt, " : "")
                     + "checkpoint_latest.ckpt, train_log.csv, val.csv, sampler.csv, *.png"]
        if let dataset = config.data.dataset, FileManager.default.fileExists(atPath: dataset + "/imagesTs") {
            lines.append("next: dro-infer --model \(model) --input \(dataset)/imagesTs --output \(run)/predictions")
            var eval = "      dro-eval --pred \(run)/predictions --gt \(dataset)/labelsTs --dataset-json \(dataset)/dataset.json"
            if let groups = config.data.groups { eval += " --groups \(groups)" }
            lines.append(eval + " --html \(run)/report")
        } else {
            lines.append("next: dro-infer --model \(model) --input IMAGES --output \(run)/predictions")
            lines.append("      dro-eval --pred \(run)/predictions --gt LABELS --html \(run)/report")
        }
        return lines.joined(separator: "\n")
    }

    /// Writes the synthetic phantom dataset (nnU-Net v2 layout with groups.csv) to `folder`.
    public static func makeDemoData(folder: String, demo: DemoConfig, quiet: Bool, output: CommandOutput) -> Int32 {
        do {
            let summary = try PhantomGenerator.writeDataset(
                to: URL(fileURLWithPath: folder), cases: demo.cases, rareFraction: demo.rareFraction,
                seed: UInt64(max(0, demo.seed)), testCases: demo.testCases, testRareFraction: demo.testRareFraction)
            if !quiet {
                let rare = summary.groups.values.filter { $0 == PhantomGenerator.rareGroup }.count
                output.out("demo dataset: \(summary.trainingIDs.count) training cases, \(summary.testIDs.count) test cases "
                           + "(\(rare) rare in all) written to \(folder)")
            }
            return ExitStatus.ok
        } catch {
            output.err("dro-train: --make-demo-data \(folder): \(error)")
            return ExitStatus.failure
        }
    }
}
