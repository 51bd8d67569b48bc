import ArgumentParser
import Benchmarks

struct EvalBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "dro-eval on a synthetic 256³ pair with 3 labels, as a ratio to MedPy's dc+hd95+assd run back to back.")

    @Option(help: "Edge length of the cubic volume.") var size: Int = EvalBenchmark.defaultSize
    @Option(help: "Seed of the synthetic blobs.") var seed: UInt64 = 1
    @Option(help: "Python interpreter with medpy and nibabel.") var python = "python3"
    @Option(name: .customLong("medpy-script"), help: "Path of bench_eval_medpy.py.")
    var medpyScript = "scripts/bench_eval_medpy.py"
    @Option(help: "Repetitions of our run (best time kept).") var repeats: Int = 1

    func validate() throws {
        if size < 8 { throw ValidationError("--size must be ≥ 8, got \(size)") }
        if repeats < 1 { throw ValidationError("--repeats must be ≥ 1, got \(repeats)") }
    }

    func run() throws {
        var o = EvalBenchmark.Options()
        o.size = size; o.seed = seed; o.python = python; o.medpyScript = medpyScript; o.repeats = repeats
        print(try EvalBenchmark.run(o))
    }
}
