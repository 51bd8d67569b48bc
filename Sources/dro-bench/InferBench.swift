import ArgumentParser
import Benchmarks

struct InferBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "dro-infer's sliding window on the reference network, with and without TTA, against PyTorch back to back.")

    @Option(help: "Volume D,H,W (memory order; the reference is 96,112,96).") var volume = "96,112,96"
    @Option(help: "Cubic window size in voxels.") var patch = 64
    @Option(help: "Window overlap fraction in [0, 1).") var overlap = 0.5
    @Option(help: "Windows per forward pass.") var batch = 1
    @Option(help: "Worker threads for the GEMMs and the elementwise passes (OpenBLAS stays at one thread unless DRO_BLAS_THREADS=openblas).") var threads = 2
    @Option(help: "Timed runs without TTA (median).") var runs = 3
    @Option(help: "Timed runs with TTA (0 skips it).") var ttaRuns = 1
    @Option(help: "PyTorch reference script (needs torch).") var torchScript = "scripts/bench_torch_unet.py"
    @Option(help: "Python interpreter for the reference.") var python = "python3"
    @Flag(help: "Print one JSON object.") var json = false

    func parsedVolume() throws -> [Int] {
        let parts = volume.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--volume must be three positive sizes D,H,W, got '\(volume)'")
        }
        return parts
    }

    func validate() throws {
        _ = try parsedVolume()
        guard patch > 0, patch % 8 == 0 else { throw ValidationError("--patch must be a positive multiple of 8, got \(patch)") }
        guard overlap >= 0, overlap < 1 else { throw ValidationError("--overlap must be in [0, 1), got \(overlap)") }
        guard batch >= 1 else { throw ValidationError("--batch must be ≥ 1, got \(batch)") }
        guard threads >= 1 else { throw ValidationError("--threads must be ≥ 1, got \(threads)") }
        guard runs >= 1 else { throw ValidationError("--runs must be ≥ 1, got \(runs)") }
        guard ttaRuns >= 0 else { throw ValidationError("--tta-runs must be ≥ 0, got \(ttaRuns)") }
    }

    func run() throws {
        var o = InferBenchmark.Options()
        o.volume = try parsedVolume()
        o.patch = patch; o.overlap = overlap; o.batch = batch; o.threads = threads
        o.runs = runs; o.ttaRuns = ttaRuns; o.torchScript = torchScript; o.python = python; o.json = json
        print(try InferBenchmark.run(o))
    }
}
