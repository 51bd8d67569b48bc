import ArgumentParser
import Foundation
import Benchmarks

struct UNetBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unet",
        abstract: "Time the reference U-Net's training step and sliding-window inference (REFERENCE §2).")

    @Option(help: "Channels per level, comma-separated.") var features = "16,32,64,128"
    @Option(help: "Cubic patch size in voxels.") var patch = 64
    @Option(help: "Batch size.") var batch = 2
    @Option(help: "Threads for OpenBLAS and the elementwise passes.") var threads = 2
    @Option(help: "Timed training steps (after 2 warm-up steps).") var steps = 10
    @Option(help: "What to time: train, infer or all.") var mode = "all"
    @Option(help: "Kernel for the 3×3×3 convolutions: auto, winograd or im2col.") var algorithm = "auto"
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Option(help: "Write a small network's weights, input, output and gradients to this directory and exit.")
    var dump: String?

    func parsedFeatures() throws -> [Int] {
        let parts = features.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--features must be positive integers separated by commas, got '\(features)'")
        }
        return parts.map { $0! }
    }

    func validate() throws {
        _ = try parsedFeatures()
        guard patch > 0 else { throw ValidationError("--patch must be positive, got \(patch)") }
        guard batch > 0 else { throw ValidationError("--batch must be positive, got \(batch)") }
        guard threads > 0 else { throw ValidationError("--threads must be positive, got \(threads)") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard UNetBenchOptions.algorithmNames.contains(algorithm) else {
            throw ValidationError("--algorithm must be auto, winograd or im2col, got '\(algorithm)'")
        }
        guard UNetBenchOptions.Mode(rawValue: mode) != nil else {
            throw ValidationError("--mode must be train, infer or all, got '\(mode)'")
        }
    }

    func run() throws {
        var o = UNetBenchOptions()
        o.features = try parsedFeatures()
        o.patch = [patch, patch, patch]
        o.batch = batch; o.threads = threads; o.steps = steps; o.json = json
        o.mode = UNetBenchOptions.Mode(rawValue: mode)!
        o.algorithmName = algorithm
        print(try UNetBenchmark.main(o, dump: dump))
    }
}
