import ArgumentParser
import Commands
import Foundation
import Tensor

/// `dro-train`: parses arguments (declared once, in `TrainOptions`) and calls `TrainCommand.run`;
/// no logic here.
struct DroTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dro-train",
        abstract: "Train a 3D U-Net with hardness weighted sampling, or check a config and its dataset.",
        discussion: """
        Exit status: 0 success, 1 failure (one line per problem on stderr), 64 usage error.
        Config keys are documented in docs/config.md.
        """)

    @OptionGroup var options: TrainOptions

    func run() throws {
        let status = TrainCommand.run(options)
        if status != 0 { throw ExitCode(status) }
    }
}

// First, before any output or thread: vector OpenBLAS kernels (may re-execute; see BLASRuntime).
BLASRuntime.ensureVectorKernels()
DroTrain.main()
