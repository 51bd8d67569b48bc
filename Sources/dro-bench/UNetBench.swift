import ArgumentParser
import Foundation
import Benchmarks

struct UNetBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unet",
        abstract: "Time the reference U-Net's training step and sliding-window inference (docs/method.md §4).")

    @Option(help: "Take the network, patch, batch and threads from this dro-train config (the flags below override it).")
    var config: String?
    @Option(help: "Channels per level, comma-separated (default 16,32,64,128; with --dump the small network's, default 8,16,32).") var features: String?
    @Option(help: "Output classes (default 4, or the config's labels; with --dump the small network's, default 3: 9 takes the fetal head's kernel).") var classes: Int?
    @Option(help: "Cubic patch size in voxels (default 64).") var patch: Int?
    @Option(help: "Batch size (default 2).") var batch: Int?
    @Option(help: "Worker threads for the GEMMs and the elementwise passes (OpenBLAS stays at one thread unless DRO_BLAS_THREADS=openblas) (default 2).") var threads: Int?
    @Option(help: "Timed training steps (after 2 warm-up steps).") var steps = 10
    @Option(help: "What to time: train, infer or all.") var mode = "all"
    @Option(help: "Kernel for the 3×3×3 convolutions: auto, winograd or im2col.") var algorithm = "auto"
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Flag(help: "Time the im2col layers' phases (im2col, each GEMM, col2im) alone and exit.") var convPhases = false
    @Option(help: "Write a small network's weights, input, output and gradients to this directory and exit.")
    var dump: String?
    @Flag(help: "With --dump: the anisotropic variant (3×3×1 kernels and 2×2×1 pooling at the fine level, model.kernel_sizes / model.pool_strides).")
    var anisotropic = false

    func parsedFeatures() throws -> [Int]? {
        guard let features else { return nil }
        let parts = features.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--features must be positive integers separated by commas, got '\(features)'")
        }
        return parts.map { $0! }
    }

    func validate() throws {
        _ = try parsedFeatures()
        if anisotropic && dump == nil { throw ValidationError("--anisotropic goes with --dump") }
        if let classes, classes < 2 { throw ValidationError("--classes must be at least 2, got \(classes)") }
        if let patch, patch <= 0 { throw ValidationError("--patch must be positive, got \(patch)") }
        if let batch, batch <= 0 { throw ValidationError("--batch must be positive, got \(batch)") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive, got \(threads)") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard UNetBenchOptions.algorithmNames.contains(algorithm) else {
            throw ValidationError("--algorithm must be auto, winograd or im2col, got '\(algorithm)'")
        }
        guard UNetBenchOptions.Mode(rawValue: mode) != nil else {
            throw ValidationError("--mode must be train, infer or all, got '\(mode)'")
        }
    }

    func run() throws {
        var o = try config.map(UNetBenchOptions.init(configPath:)) ?? UNetBenchOptions()
        if let f = try parsedFeatures() { o.features = f }
        if let classes { o.classes = classes }
        if let patch { o.patch = [patch, patch, patch] }
        if let batch { o.batch = batch }
        if let threads { o.threads = threads }
        o.steps = steps; o.json = json
        o.mode = UNetBenchOptions.Mode(rawValue: mode)!
        o.algorithmName = algorithm
        print(try UNetBenchmark.main(o, dump: dump, dumpClasses: classes, dumpFeatures: try parsedFeatures(),
                                     convPhases: convPhases, anisotropic: anisotropic))
    }
}
