import ArgumentParser
import Benchmarks

struct BLASBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blas",
        abstract: "Print the OpenBLAS kernels in use (and how they were chosen) and a quick square sgemm rate.")

    @Option(help: "Square sgemm size.") var size = BLASBenchmark.defaultSize
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        if size < 1 { throw ValidationError("--size must be ≥ 1, got \(size)") }
        if threads < 1 { throw ValidationError("--threads must be ≥ 1, got \(threads)") }
    }

    func run() throws {
        print(try BLASBenchmark.report(size: size, threads: threads, json: json), terminator: "")
    }
}
