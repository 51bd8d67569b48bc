import ArgumentParser

struct InferBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "infer", abstract: "Not available yet.")
    func run() throws { throw ValidationError("dro-bench infer is not available yet") }
}
