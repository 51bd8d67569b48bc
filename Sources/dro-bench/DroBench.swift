import ArgumentParser
import Tensor

/// `dro-bench`: release-build benchmarks. Each subcommand lives in its own file and calls
/// one function of the `Benchmarks` library.
@main
struct DroBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dro-bench",
        abstract: "Measure dro-seg's speed and memory against references run in the same process or back to back.",
        subcommands: [NiftiBench.self, SamplerBench.self, UNetBench.self, EvalBench.self, InferBench.self, BLASBench.self,
                      AllreduceBench.self, CollectivesBench.self]
    )

    /// Picks vector OpenBLAS kernels first (may re-execute this binary; see BLASRuntime), then parses.
    static func main() {
        BLASRuntime.ensureVectorKernels()
        main(nil)
    }
}
