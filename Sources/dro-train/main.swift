import ArgumentParser
import Commands
import Foundation
import Tensor

/// `dro-train`: parses arguments and calls `TrainCommand.run`; no logic here.
struct DroTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dro-train",
        abstract: "Train a 3D U-Net with hardness weighted sampling, or check a config and its dataset.",
        discussion: """
        Exit status: 0 success, 1 failure (one line per problem on stderr), 64 usage error.
        Config keys are documented in docs/config.md.
        """)

    @Option(name: .long, help: "Config file (YAML). Relative paths in it resolve against its folder.")
    var config: String?

    @Option(name: .long, help: "Run folder; replaces output.dir (relative to the working directory).")
    var output: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key, e.g. --set training.lr=0.001 (repeatable).",
                                                         valueName: "key.path=value"))
    var overrides: [String] = []

    @Flag(name: .long, help: "Print the resolved config (every key, defaults filled in) as YAML.")
    var printConfig = false

    @Flag(name: .long, help: "Validate the config, read every case of the dataset, report every problem and a summary; do not train.")
    var dryRun = false

    @Flag(name: .long, help: "Continue training from the last checkpoint in the run folder.")
    var resume = false

    @Flag(name: .long, help: "Print only problems.")
    var quiet = false

    @Option(name: .long, help: "Write the synthetic phantom dataset to this folder and exit.")
    var makeDemoData: String?

    @Option(name: .long, help: "Demo dataset: number of cases.")
    var cases: Int?

    @Option(name: .long, help: "Demo dataset: fraction of cases with the rare anatomy.")
    var rareFraction: Double?

    @Option(name: .long, help: "Demo dataset: random seed.")
    var seed: Int?

    @Option(name: .long, help: "Demo dataset: number of held-out test cases (imagesTs/labelsTs; default 8).")
    var testCases: Int?

    @Option(name: .long, help: "Demo dataset: fraction of test cases with the rare anatomy (default 0.5).")
    var testRareFraction: Double?

    func validate() throws {
        if config == nil && makeDemoData == nil {
            throw ValidationError("--config FILE is required (or --make-demo-data DIR)")
        }
        if makeDemoData == nil && (cases != nil || rareFraction != nil || seed != nil || testCases != nil || testRareFraction != nil) {
            throw ValidationError("--cases, --rare-fraction, --seed, --test-cases and --test-rare-fraction go with --make-demo-data")
        }
    }

    func run() throws {
        var options = TrainOptions()
        options.configPath = config
        options.outputDir = output
        options.overrides = overrides
        options.printConfig = printConfig
        options.dryRun = dryRun
        options.resume = resume
        options.quiet = quiet
        options.makeDemoData = makeDemoData
        options.demoCases = cases
        options.demoRareFraction = rareFraction
        options.demoSeed = seed
        options.demoTestCases = testCases
        options.demoTestRareFraction = testRareFraction
        let status = TrainCommand.run(options)
        if status != 0 { throw ExitCode(status) }
    }
}

// First, before any output or thread: vector OpenBLAS kernels (may re-execute; see BLASRuntime).
BLASRuntime.ensureVectorKernels()
DroTrain.main()
