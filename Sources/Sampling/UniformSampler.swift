// Uniform sampler: B distinct indices, every B-subset equally likely (plain ERM, `sampler.kind:
// uniform`). Importance weights are all 1; the losses fed back are only kept (the last one per
// sample) for the logs. State: "DROUNI02", N, generator, draw counts, last losses (N Doubles);
// "DROUNI01" (written before the last losses were kept here) restores with them unknown (nan).

import Common

public final class UniformSampler: Sampler {
    public private(set) var generator: SeededGenerator
    private var log: LossLog
    public var drawCounts: [UInt32] { log.drawCounts }
    /// The last loss fed back per sample (nan before its first draw); logs only.
    public var lastLosses: [Double] { log.lastLosses }
    static let stateMagic = "DROUNI02"
    /// The state without last losses.
    static let stateMagicWithoutLosses = "DROUNI01"

    public var count: Int { log.count }

    public init(count: Int, generator: SeededGenerator) throws {
        guard count >= 1 else { throw SamplerError.invalidInitialLosses("a sampler needs at least 1 sample, got \(count)") }
        log = LossLog(count: count)
        self.generator = generator
    }

    /// Successive uniform draws over the indices not yet drawn: rejection of repeats while
    /// B ≤ N/2 (expected < 2 tries per draw), a partial Fisher–Yates shuffle otherwise.
    public func nextBatch(size: Int) throws -> [Int] {
        guard size >= 1, size <= count else { throw SamplerError.invalidBatchSize(requested: size, samples: count) }
        var batch = [Int](); batch.reserveCapacity(size)
        if 2 * size <= count {
            while batch.count < size {
                let i = generator.nextIndex(below: count)
                if !batch.contains(i) { batch.append(i) }
            }
        } else {
            var pool = Array(0 ..< count)
            for k in 0 ..< size {
                let j = k + generator.nextIndex(below: count - k)
                pool.swapAt(k, j)
                batch.append(pool[k])
            }
        }
        log.recordDraws(batch)
        return batch
    }

    public func feedBack(indices: [Int], losses: [Double]) throws -> [Double] {
        try log.feedBack(indices: indices, losses: losses)
    }

    /// Last losses, the uniform probability 1/N and the draw counts.
    public func snapshot() -> [SampleSnapshot] {
        let p = 1 / Double(count)
        return log.snapshot { _ in p }
    }

    public func stateBytes() -> [UInt8] {
        var w = ByteWriter()
        w.append(magic: Self.stateMagic)
        w.append(UInt64(count))
        generator.write(to: &w)
        log.write(to: &w)
        return w.bytes
    }

    public func restore(from bytes: [UInt8]) throws {
        var r = ByteReader(bytes, what: "uniform sampler state")
        let withLosses = bytes.starts(with: Array(Self.stateMagic.utf8))
        try r.expect(magic: withLosses ? Self.stateMagic : Self.stateMagicWithoutLosses)
        let n = try r.count("sample", elementSize: withLosses ? 12 : 4)
        guard n == count else { throw SamplerError.sampleCountMismatch(checkpoint: n, expected: count) }
        let g = try SeededGenerator(from: &r)
        let counts = try r.uint32s(count: n, "draw counts")
        let losses = withLosses ? try r.doubles(count: n, "last losses") : [Double](repeating: .nan, count: n)
        try r.finish()
        generator = g
        log = LossLog(drawCounts: counts, lastLosses: losses)
    }
}
