import ArgumentParser

struct UNetBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unet", abstract: "Not available yet.")
    func run() throws { throw ValidationError("dro-bench unet is not available yet") }
}
