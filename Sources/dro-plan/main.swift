import ArgumentParser
import Planning
import Tensor

/// `dro-plan`: parses arguments and calls `PlanCommand.run`; no logic here.
struct DroPlan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dro-plan",
        abstract: "Fingerprint a dataset and plan a U-Net and schedule that fit a time budget on this machine.",
        discussion: """
        Writes a complete dro-train config (every choice commented) and the dataset fingerprint
        (JSON) next to it, and prints the candidates timed on this machine. Rules: docs/planning.md.
        Exit status: 0 success, 1 failure (one line on stderr), 64 usage error.
        """)

    @OptionGroup var options: PlanOptions

    func run() throws {
        let status = PlanCommand.run(options)
        if status != 0 { throw ExitCode(status) }
    }
}

// First, before any output or thread: vector OpenBLAS kernels (may re-execute; see BLASRuntime).
BLASRuntime.ensureVectorKernels()
DroPlan.main()
