import Config

/// Entry points of training and demo-data generation, called by `TrainCommand`. They arrive
/// with the training issue; until then they say so and fail.
public enum TrainingEntry {
    static let pending = "arrives with the training issue; for now dro-train can --print-config and --dry-run"

    public static func train(_ config: Config, options: TrainOptions, output: CommandOutput) -> Int32 {
        output.err("dro-train: training\(options.resume ? " (--resume)" : "") is not implemented yet: it \(pending)")
        return ExitStatus.failure
    }

    public static func makeDemoData(folder: String, options: TrainOptions, output: CommandOutput) -> Int32 {
        output.err("dro-train: --make-demo-data is not implemented yet: it \(pending)")
        return ExitStatus.failure
    }
}
