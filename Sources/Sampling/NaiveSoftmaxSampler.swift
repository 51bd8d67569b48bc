// The obvious O(N) hardness weighted sampler, kept as the oracle for the tree sampler and as the
// benchmark's reference. It recomputes the whole distribution every iteration, as the authors'
// code does: q = softmax(β·L̃) with the max subtracted, p = max(q, ε) renormalised (ε = floor/N),
// then B successive draws by a linear scan of the cumulative sum, each renormalised over the
// indices not yet drawn (the law of numpy's `choice(replace=False, p=p)`).

import Common
import Foundation

public final class NaiveSoftmaxSampler: Sampler {
    public let options: HardnessSamplerOptions
    public private(set) var staleLosses: [Double]
    public private(set) var drawCounts: [UInt32]
    public private(set) var generator: SeededGenerator

    public var count: Int { staleLosses.count }

    public init(initialLosses: [Double], options: HardnessSamplerOptions, generator: SeededGenerator) throws {
        try options.validate()
        guard !initialLosses.isEmpty, initialLosses.allSatisfy({ $0.isFinite }) else {
            throw SamplerError.invalidInitialLosses("need at least 1 finite value")
        }
        self.options = options
        staleLosses = initialLosses
        drawCounts = [UInt32](repeating: 0, count: initialLosses.count)
        self.generator = generator
    }

    /// Work buffer for p, reused across iterations.
    private var scratch: [Double] = []

    /// p = max(softmax(β·L̃), ε) / Σ max(softmax(β·L̃), ε), recomputed from scratch.
    public func probabilities() -> [Double] {
        var p = [Double](repeating: 0, count: count)
        let z = fillFloored(&p)
        for i in 0 ..< p.count { p[i] /= z }
        return p
    }

    /// Writes max(softmax(β·L̃)_i, ε) into p (unnormalised by the floor's renormalisation) and
    /// returns their sum: max, exp, sum and floor passes over N, as the authors' code does.
    private func fillFloored(_ p: inout [Double]) -> Double {
        let beta = options.beta, eps = options.floor / Double(count)
        return staleLosses.withUnsafeBufferPointer { l in
            p.withUnsafeMutableBufferPointer { q in
                var top = -Double.infinity
                for v in l where v > top { top = v }
                var s = 0.0
                for i in 0 ..< l.count {
                    q[i] = Foundation.exp(beta * (l[i] - top))
                    s += q[i]
                }
                var z = 0.0
                for i in 0 ..< q.count {
                    q[i] = Swift.max(q[i] / s, eps)
                    z += q[i]
                }
                return z
            }
        }
    }

    public func nextBatch(size: Int) throws -> [Int] {
        guard size >= 1, size <= count else { throw SamplerError.invalidBatchSize(requested: size, samples: count) }
        if scratch.count != count { scratch = [Double](repeating: 0, count: count) }
        var mass = fillFloored(&scratch)
        var batch = [Int](); batch.reserveCapacity(size)
        for _ in 0 ..< size {
            var i = -1
            if mass > 0 {
                let u = generator.nextDouble() * mass
                scratch.withUnsafeBufferPointer { q in
                    var acc = 0.0
                    for j in 0 ..< q.count where q[j] > 0 {
                        i = j
                        acc += q[j]
                        if u < acc { break }
                    }
                }
            } else {  // floor off, every remaining probability underflowed: equally likely
                repeat { i = generator.nextIndex(below: count) } while batch.contains(i)
            }
            batch.append(i)
            scratch[i] = 0
            mass = scratch.reduce(0, +)  // renormalise over the remaining indices, as numpy does
            if drawCounts[i] < UInt32.max { drawCounts[i] += 1 }
        }
        return batch
    }

    public func feedBack(indices: [Int], losses: [Double]) throws -> [Double] {
        try validateFeedback(indices: indices, losses: losses, count: count)
        let weights = options.importanceSampling
            ? zip(indices, losses).map { importanceWeight(loss: $1, stale: staleLosses[$0], options: options) }
            : [Double](repeating: 1, count: indices.count)
        for (i, l) in zip(indices, losses) {
            staleLosses[i] = momentumUpdate(stale: staleLosses[i], loss: l, momentum: options.momentum)
        }
        return weights
    }

    public func snapshot() -> [SampleSnapshot] {
        let p = probabilities()
        return (0 ..< count).map { SampleSnapshot(staleLoss: staleLosses[$0], probability: p[$0], draws: Int(drawCounts[$0])) }
    }

    /// The oracle keeps no checkpoint format of its own: its state is its history.
    public func stateBytes() -> [UInt8] {
        var w = ByteWriter()
        w.append(magic: "DRONAI01")
        w.append(UInt64(count))
        generator.write(to: &w)
        w.append(contentsOf: staleLosses)
        w.append(contentsOf: drawCounts)
        return w.bytes
    }

    public func restore(from bytes: [UInt8]) throws {
        var r = ByteReader(bytes, what: "naive sampler state")
        try r.expect(magic: "DRONAI01")
        let n = try r.count("sample", elementSize: 12)
        guard n == count else { throw SamplerError.sampleCountMismatch(checkpoint: n, expected: count) }
        let g = try SeededGenerator(from: &r)
        let stale = try r.doubles(count: n, "stale losses")
        let counts = try r.uint32s(count: n, "draw counts")
        try r.finish()
        generator = g
        staleLosses = stale
        drawCounts = counts
    }
}
