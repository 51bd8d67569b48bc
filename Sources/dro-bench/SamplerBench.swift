import ArgumentParser
import Foundation
import Benchmarks

struct SamplerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sampler",
        abstract: "Time one iteration (draw B + update B) of the tree and the naive O(N) hardness weighted sampler.")

    @Option(name: .customLong("n"), help: "Comma-separated sample counts N.")
    var counts: String = "1000,100000,1000000"

    @Option(help: "Batch size B (1 ≤ B ≤ every N).")
    var batch: Int = 2

    @Option(help: "Robustness β (finite, ≥ 0).")
    var beta: Double = defaultBenchBeta

    @Flag(help: "Print one JSON object per N instead of a table.")
    var json = false

    func parsedCounts() throws -> [Int] {
        let parts = counts.split(separator: ",", omittingEmptySubsequences: false)
        let ns = parts.map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, ns.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--n '\(counts)' is invalid: give comma-separated integers ≥ 1, e.g. 1000,100000")
        }
        return ns.map { $0 ?? 0 }
    }

    func validate() throws {
        let ns = try parsedCounts()
        guard batch >= 1, batch <= (ns.min() ?? 0) else {
            throw ValidationError("--batch \(batch) is invalid: allowed 1...\(ns.min() ?? 0) (the smallest --n)")
        }
        guard beta.isFinite, beta >= 0 else { throw ValidationError("--beta \(beta) is invalid: allowed a finite number ≥ 0") }
    }

    func run() throws {
        print(try samplerBenchmarkReport(ns: try parsedCounts(), batch: batch, beta: beta, json: json), terminator: "")
    }
}
