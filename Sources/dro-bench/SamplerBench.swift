import ArgumentParser

struct SamplerBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sampler", abstract: "Not available yet.")
    func run() throws { throw ValidationError("dro-bench sampler is not available yet") }
}
