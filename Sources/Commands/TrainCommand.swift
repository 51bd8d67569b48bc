import ArgumentParser
import Common
import Config
import DataPipeline
import Foundation

/// Everything `dro-train` was asked to do: each flag declared once, here, and parsed by the
/// executable as an option group (nothing decided there). Build one in code with
/// `TrainOptions.parse([...])` (a plain `TrainOptions()` is only a flag definition).
public struct TrainOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("config"), help: "Config file (YAML). Relative paths in it resolve against its folder.")
    public var configPath: String?

    @Option(name: .customLong("output"), help: "Run folder; replaces output.dir (relative to the working directory).")
    public var outputDir: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key, e.g. --set training.lr=0.001 (repeatable).",
                                                         valueName: "key.path=value"))
    public var overrides: [String] = []

    @Flag(name: .long, help: "Print the resolved config (every key, defaults filled in) as YAML.")
    public var printConfig = false

    @Flag(name: .long, help: "Validate the config, read every case of the dataset, report every problem and a summary; do not train.")
    public var dryRun = false

    @Flag(name: .long, help: "Continue training from the last checkpoint in the run folder.")
    public var resume = false

    @Flag(name: .long, help: "Print only problems.")
    public var quiet = false

    @Option(name: .long, help: "Write the synthetic phantom dataset to this folder and exit.")
    public var makeDemoData: String?

    // The demo dataset's flags replace the keys of `data.demo` (DemoConfig: defaults and meaning).
    @Option(name: .customLong("cases"), help: "Demo dataset: number of cases (data.demo.cases).")
    public var demoCases: Int?

    @Option(name: .customLong("rare-fraction"), help: "Demo dataset: fraction of cases with the rare anatomy (data.demo.rare_fraction).")
    public var demoRareFraction: Double?

    @Option(name: .customLong("seed"), help: "Demo dataset: random seed (data.demo.seed).")
    public var demoSeed: Int?

    @Option(name: .customLong("test-cases"), help: "Demo dataset: number of held-out test cases, imagesTs/labelsTs (data.demo.test_cases).")
    public var demoTestCases: Int?

    @Option(name: .customLong("test-rare-fraction"), help: "Demo dataset: fraction of test cases with the rare anatomy (data.demo.test_rare_fraction).")
    public var demoTestRareFraction: Double?

    @Option(name: .customLong("spacing"), help: "Demo dataset: voxel spacing in mm as X,Y,Z, e.g. 1.2,1.2,4.8 for thick slices on z; the grid keeps the 77 mm field of view (data.demo.spacing).")
    public var demoSpacing: String?

    public init() {}

    public func validate() throws {
        if makeDemoData == nil && (demoCases != nil || demoRareFraction != nil || demoSeed != nil
                                   || demoTestCases != nil || demoTestRareFraction != nil || demoSpacing != nil) {
            throw ValidationError("--cases, --rare-fraction, --seed, --test-cases, --test-rare-fraction and --spacing go with --make-demo-data")
        }
        if let text = demoSpacing, Self.parseSpacing(text) == nil {
            throw ValidationError("--spacing \(text): expected three numbers X,Y,Z in [0.3, 20] mm, e.g. 1.2,1.2,4.8")
        }
    }

    /// `demo` with the values given on the command line put in.
    public func demo(over demo: DemoConfig) -> DemoConfig {
        var d = demo
        if let v = demoCases { d.cases = v }
        if let v = demoRareFraction { d.rareFraction = v }
        if let v = demoSeed { d.seed = v }
        if let v = demoTestCases { d.testCases = v }
        if let v = demoTestRareFraction { d.testRareFraction = v }
        if let text = demoSpacing, let v = Self.parseSpacing(text) { d.spacing = v }
        return d
    }

    /// "1.2,1.2,4.8" → [1.2, 1.2, 4.8]; nil unless three numbers in [0.3, 20] (data.demo.spacing's range).
    static func parseSpacing(_ text: String) -> [Double]? {
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard values.count == 3, values.allSatisfy({ $0.map { (0.3...20).contains($0) } ?? false }) else { return nil }
        return values.compactMap { $0 }
    }
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
            let demo = options.demo(over: config?.data.demo ?? DemoConfig())
            return TrainingEntry.makeDemoData(folder: folder, demo: demo, quiet: options.quiet, output: output)
        }
        guard let config else { return ExitStatus.usage }
        if options.printConfig {
            do { output.out(try config.resolvedYAML()) } catch {
                output.err("dro-train: \(error)")
                return ExitStatus.failure
            }
        }
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
                       + "features \(config.model.features)" + kernelNote(config.model) + "; output: \(config.output.dir)")
        }
        if report.problems.isEmpty {
            if !quiet { output.out("dry run OK: config valid, \(layout.cases.count) cases checked") }
            return ExitStatus.ok
        }
        output.err("dry run: \(report.problems.count) problem(s) in the dataset")
        return ExitStatus.failure
    }

    /// Patches larger than a case along some axis are zero-padded (as nnU-Net does); say so.
    /// ", kernels [[3, 3, 1], ...] (x y z), pool strides [[2, 2, 1], ...]" when either key is set.
    static func kernelNote(_ model: ModelConfig) -> String {
        guard model.kernelSizes != nil || model.poolStrides != nil else { return "" }
        return ", kernels \(model.levelKernels) (x y z), pool strides \(model.levelStrides)"
    }

    static func patchNote(_ patch: [Int], _ cases: [CaseStatistics]) -> String? {
        let smaller = cases.filter { c in zip(c.shape, patch).contains { $0 < $1 } }
        guard !smaller.isEmpty else { return nil }
        return "\(smaller.count) case(s) are smaller than the patch \(DatasetProblem.shapeText(patch)) along some axis (e.g. \(smaller[0].id) \(DatasetProblem.shapeText(smaller[0].shape))); their patches will be padded"
    }
}
