import Cluster
import Common
import Config
import DataPipeline
import Foundation
import Training

/// Entry points of training and demo-data generation, called by `TrainCommand`.
public enum TrainingEntry {
    /// Under `mpirun`/`srun` with several ranks every rank calls this: the communicator is made
    /// here (MPI is initialised only then) and finished before returning, whatever the status.
    public static func train(_ config: Config, options: TrainOptions, output: CommandOutput) -> Int32 {
        let communicator: any Communicator
        do {
            communicator = try Communicators.fromEnvironment()
        } catch {
            output.err("dro-train: \(error)")
            return ExitStatus.failure
        }
        let status = train(config, options: options, output: output, communicator: communicator)
        communicator.finish()
        return status
    }

    static func train(_ config: Config, options: TrainOptions, output: CommandOutput,
                      communicator: any Communicator) -> Int32 {
        // A config with a `data.demo` section names the built-in phantom: its first use writes it
        // (rank 0 alone; the others wait for it).
        if communicator.size > 1, config.data.demo != nil {
            var status = ExitStatus.ok
            if communicator.isRoot, let folder = config.data.dataset, !FileManager.default.fileExists(atPath: folder) {
                status = train(config, demoOnly: options, output: output)
            }
            do {
                try communicator.check(status == ExitStatus.ok ? nil : "writing the demo dataset failed")
            } catch {
                if communicator.isRoot { output.err("dro-train: \(error)") }
                return ExitStatus.failure
            }
        } else if config.data.demo != nil {
            let status = train(config, demoOnly: options, output: output)
            guard status == ExitStatus.ok else { return status }
        }
        let status = TrainRun.run(config, resume: options.resume, quiet: options.quiet, output: output,
                                  communicator: communicator)
        if status == ExitStatus.ok && !options.quiet && communicator.isRoot { output.out(nextSteps(config)) }
        return status
    }

    /// Writes the demo dataset of `data.demo` unless its folder exists.
    static func train(_ config: Config, demoOnly options: TrainOptions, output: CommandOutput) -> Int32 {
        if let demo = config.data.demo, let folder = config.data.dataset,
           !FileManager.default.fileExists(atPath: folder) {
            if !options.quiet { output.out("first use of the demo config: writing the phantom dataset to \(folder)") }
            return makeDemoData(folder: folder, demo: demo, quiet: options.quiet, output: output)
        }
        return ExitStatus.ok
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
                seed: UInt64(max(0, demo.seed)), testCases: demo.testCases, testRareFraction: demo.testRareFraction,
                shape: PhantomGenerator.shape(forSpacing: Spacing(demo.spacing)), spacing: Spacing(demo.spacing))
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
