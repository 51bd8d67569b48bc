import Config
import Foundation

/// Entry points of training and demo-data generation, called by `TrainCommand`.
public enum TrainingEntry {
    public static func train(_ config: Config, options: TrainOptions, output: CommandOutput) -> Int32 {
        TrainRun.run(config, resume: options.resume, quiet: options.quiet, output: output)
    }

    /// Writes the synthetic phantom dataset (nnU-Net v2 layout with groups.csv) to `folder`.
    public static func makeDemoData(folder: String, options: TrainOptions, output: CommandOutput) -> Int32 {
        do {
            let summary = try PhantomGenerator.writeDataset(
                to: URL(fileURLWithPath: folder), cases: options.demoCases ?? DemoConfig.defaultCases,
                rareFraction: options.demoRareFraction ?? DemoConfig.defaultRareFraction,
                seed: UInt64(max(0, options.demoSeed ?? 0)))
            if !options.quiet {
                let rare = summary.groups.values.filter { $0 == PhantomGenerator.rareGroup }.count
                output.out("demo dataset: \(summary.trainingIDs.count) cases (\(rare) rare) written to \(folder)")
            }
            return ExitStatus.ok
        } catch {
            output.err("dro-train: --make-demo-data \(folder): \(error)")
            return ExitStatus.failure
        }
    }
}
