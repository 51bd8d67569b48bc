import ArgumentParser

/// `dro-bench`: release-build benchmarks. Each subcommand lives in its own file and calls
/// one function of the `Benchmarks` library.
@main
struct DroBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dro-bench",
        abstract: "Measure dro-seg's speed and memory against references run in the same process or back to back.",
        subcommands: [NiftiBench.self, SamplerBench.self, UNetBench.self, EvalBench.self, InferBench.self]
    )
}
