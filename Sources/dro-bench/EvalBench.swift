import ArgumentParser

struct EvalBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Not available yet.")
    func run() throws { throw ValidationError("dro-bench eval is not available yet") }
}
