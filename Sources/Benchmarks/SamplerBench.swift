// `dro-bench sampler`: cost of one training iteration of the hardness weighted sampler — draw a
// batch of B, then feed back B random losses — for the O(B log N) tree sampler and the naive
// O(N) softmax sampler (the authors' method: full softmax, floor, B scans) in the same run.
//
// Setting as the authors' overhead script (docs/method.md §1.11; their figures in docs/performance.md,
// "Reference figures"): β = 100, batch 2, histories near 1
// (L_init = 1 with our 0.1 % tie-breaking noise), fresh losses uniform in [0, 1]. `--beta 10000`
// shows the re-basing cost: losses then span 10⁴ nats and c is re-based in O(N) when needed.

import Foundation
import Sampling

public struct SamplerBenchResult: Sendable {
    public var n: Int
    public var batch: Int
    public var treeMicroseconds: Double
    public var naiveMicroseconds: Double
    public var bytesPerSample: Double
    public var rebuilds: Int
    public var beta: Double
    public var speedup: Double { naiveMicroseconds / treeMicroseconds }
}

/// Time budgets per measurement: long enough for ≥ 10⁴ tree iterations and ≥ 5 naive ones at
/// N = 10⁶, short enough to be polite on shared 2-core machines.
let treeBudgetSeconds = 0.4
let naiveBudgetSeconds = 0.6
let minimumNaiveIterations = 5
/// β of the authors' runs and overhead script (the default of `--beta`).
public let defaultBenchBeta = 100.0

/// CPU time of the calling thread in seconds. The machines are shared (load often 5× the core
/// count), so wall time mostly measures the neighbours; thread CPU time measures our work.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Mean thread-CPU seconds per iteration of `body`, run in rounds of `round` calls until
/// `budget` CPU seconds have been spent (after one warm-up call).
func secondsPerIteration(budget: Double, round: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var iterations = 0
    let start = threadCPUSeconds()
    var elapsed = 0.0
    while elapsed < budget {
        for _ in 0 ..< round { try body() }
        iterations += round
        elapsed = threadCPUSeconds() - start
    }
    return elapsed / Double(iterations)
}

/// Measures both samplers for each N.
public func runSamplerBenchmark(ns: [Int], batch: Int, beta: Double = defaultBenchBeta,
                                seed: UInt64 = 2026) throws -> [SamplerBenchResult] {
    var results = [SamplerBenchResult]()
    var master = SeededGenerator(seed: seed)
    for n in ns {
        let options = HardnessSamplerOptions(beta: beta, initLoss: 1)
        let tree = try HardnessWeightedSampler(count: n, options: options, generator: master.spawn())
        let naive = try NaiveSoftmaxSampler(initialLosses: tree.staleLosses, options: options, generator: master.spawn())
        var lossGen = master.spawn()
        var losses = [Double](repeating: 0, count: batch)
        func iterate(_ s: Sampler) throws {
            let b = try s.nextBatch(size: batch)
            for k in 0 ..< batch { losses[k] = lossGen.nextDouble() }
            _ = try s.feedBack(indices: b, losses: losses)
        }
        let treeTime = try secondsPerIteration(budget: treeBudgetSeconds, round: 1000) { try iterate(tree) }
        let naiveTime = try secondsPerIteration(budget: naiveBudgetSeconds, round: minimumNaiveIterations) { try iterate(naive) }
        results.append(SamplerBenchResult(n: n, batch: batch, treeMicroseconds: treeTime * 1e6,
                                          naiveMicroseconds: naiveTime * 1e6, bytesPerSample: tree.bytesPerSample,
                                          rebuilds: tree.rebuildCount, beta: beta))
    }
    return results
}

/// JSON lines (one object per N) or a text table.
public func formatSamplerBenchmark(_ results: [SamplerBenchResult], json: Bool) -> String {
    func f(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
    if json {
        return results.map {
            "{\"n\": \($0.n), \"batch\": \($0.batch), \"tree_us_per_iter\": \(f($0.treeMicroseconds, 3)), "
                + "\"naive_us_per_iter\": \(f($0.naiveMicroseconds, 3)), \"bytes_per_sample\": \(f($0.bytesPerSample, 2)), "
                + "\"rebuilds\": \($0.rebuilds), \"speedup\": \(f($0.speedup, 1)), \"beta\": \($0.beta)}"
        }.joined(separator: "\n") + "\n"
    }
    var out = "hardness weighted sampler, β = \(results.first?.beta ?? defaultBenchBeta), draw B + update B per iteration (thread CPU time)\n"
    out += "       N      B   tree µs/iter   naive µs/iter   naive/tree   bytes/sample   rebuilds\n"
    for r in results {
        out += String(format: "%8d %6d %14.3f %15.1f %12.0f %14.2f %10d\n", r.n, r.batch, r.treeMicroseconds,
                      r.naiveMicroseconds, r.speedup, r.bytesPerSample, r.rebuilds)
    }
    return out
}

/// The one call `dro-bench sampler` makes.
public func samplerBenchmarkReport(ns: [Int], batch: Int, beta: Double = defaultBenchBeta, json: Bool) throws -> String {
    formatSamplerBenchmark(try runSamplerBenchmark(ns: ns, batch: batch, beta: beta), json: json)
}
