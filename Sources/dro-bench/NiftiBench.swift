import ArgumentParser

struct NiftiBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nifti", abstract: "Not available yet.")
    func run() throws { throw ValidationError("dro-bench nifti is not available yet") }
}
