import Common
import Config
import DataPipeline
import Foundation

/// Everything `dro-train` was asked to do (parsed by the executable, nothing decided there).
public struct TrainOptions: Sendable {
    public var configPath: String?
    /// Replaces output.dir; relative to the working directory.
    public var outputDir: String?
    public var overrides: [String] = []
    public var printConfig = false
    public var dryRun = false
    public var resume = false
    public var quiet = false
    public var makeDemoData: String?
    public var demoCases: Int?
    public var demoRareFraction: Double?
    public var demoSeed: Int?
    public var demoTestCases: Int?
    public var demoTestRareFraction: Double?
    public init() {}
}

/// `dro-train`'s logic: load and validate the config, then print it, dry-run the dataset,
/// write the demo dataset or train.
public enum TrainCommand {
    public static func run(_ options: TrainOptions, output: CommandOutput = .standard) -> Int32 {
        if options.makeDemoData == nil && options.configPath == nil {
            output.err("dro-train: --config FILE is required")
            return ExitStatus.usage
        }
        var config: Config?
        if let path = options.configPath {
            do {
                config = try loadConfig(path: path, options: options)
            } catch let error as ConfigError {
                error.problems.forEach { output.err($0.description) }
                return ExitStatus.failure
            } catch {
                output.err("\(path): \(error)")
                return ExitStatus.failure
            }
        }
        if let folder = options.makeDemoData {
            // The config's data.demo section supplies what the command line leaves out.
            var demoOptions = options
            if let demo = config?.data.demo {
                demoOptions.demoCases = options.demoCases ?? demo.cases
                demoOptions.demoRareFraction = options.demoRareFraction ?? demo.rareFraction
                demoOptions.demoSeed = options.demoSeed ?? demo.seed
                demoOptions.demoTestCases = options.demoTestCases ?? demo.testCases
                demoOptions.demoTestRareFraction = options.demoTestRareFraction ?? demo.testRareFraction
            }
            return TrainingEntry.makeDemoData(folder: folder, options: demoOptions, output: output)
        }
        guard let config else { return ExitStatus.usage }
        if options.printConfig { output.out(config.resolvedYAML()) }
        if options.dryRun { return DryRun.run(config, quiet: options.quiet, output: output) }
        if options.printConfig { return ExitStatus.ok }
        return TrainingEntry.train(config, options: options, output: output)
    }

    /// The config file with `--set` overrides applied and `--output` replacing output.dir.
    public static func loadConfig(path: String, options: TrainOptions) throws -> Config {
        var config = try Config.load(path: path, overrides: options.overrides)
        if let dir = options.outputDir {
            config.output.dir = URL(fileURLWithPath: dir).standardizedFileURL.path
        }
        return config
    }
}

/// `dro-train --dry-run`: the config is valid (already checked); discover the dataset, read
/// every case, report every problem on stderr and the dataset summary on stdout.
public enum DryRun {
    public static func run(_ config: Config, quiet: Bool, output: CommandOutput) -> Int32 {
        let (layout, discoveryProblems) = DatasetLayout.discoverAll(config.data)
        guard let layout else {
            discoveryProblems.forEach { output.err($0.description) }
            output.err("dry run: \(discoveryProblems.count) problem(s); the dataset could not be listed")
            return ExitStatus.failure
        }
        var report = DatasetCheck.run(layout, discoveryProblems: discoveryProblems)
        let split = DatasetSplit(cases: layout.cases, data: config.data)
        if !layout.cases.isEmpty && split.training.count < config.training.batchSize {
            report.problems.append(.configKey(key: "training.batch_size",
                message: "\(config.training.batchSize) but only \(split.training.count) training case(s) after the validation split (a batch draws distinct cases)"))
        }
        report.problems.forEach { output.err($0.description) }
        if !quiet {
            output.out(DatasetSummary.text(report, split: split))
            if let note = patchNote(config.training.patchSize, report.cases) { output.out("note: \(note)") }
            output.out("network: \(layout.channels.count) input channel(s), \(layout.classCount) classes, "
                       + "features \(config.model.features); output: \(config.output.dir)")
        }
        if report.problems.isEmpty {
            if !quiet { output.out("dry run OK: config valid, \(layout.cases.count) cases checked") }
            return ExitStatus.ok
        }
        output.err("dry run: \(report.problems.count) problem(s) in the dataset")
        return ExitStatus.failure
    }

    /// Patches larger than a case along some axis are zero-padded (as nnU-Net does); say so.
    static func patchNote(_ patch: [Int], _ cases: [CaseStatistics]) -> String? {
        let smaller = cases.filter { c in zip(c.shape, patch).contains { $0 < $1 } }
        guard !smaller.isEmpty else { return nil }
        return "\(smaller.count) case(s) are smaller than the patch \(DatasetProblem.shapeText(patch)) along some axis (e.g. \(smaller[0].id) \(DatasetProblem.shapeText(smaller[0].shape))); their patches will be padded"
    }
}
