// Uniform sampler: B distinct indices, every B-subset equally likely (plain ERM, `sampler.kind:
// uniform`). Importance weights are all 1. State: "DROUNI01", N, generator, draw counts.

public final class UniformSampler: Sampler {
    public private(set) var drawCounts: [UInt32]
    public private(set) var generator: SeededGenerator
    static let stateMagic = "DROUNI01"

    public var count: Int { drawCounts.count }

    public init(count: Int, generator: SeededGenerator) throws {
        guard count >= 1 else { throw SamplerError.invalidInitialLosses("a sampler needs at least 1 sample, got \(count)") }
        drawCounts = [UInt32](repeating: 0, count: count)
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
        for i in batch where drawCounts[i] < UInt32.max { drawCounts[i] += 1 }
        return batch
    }

    public func feedBack(indices: [Int], losses: [Double]) throws -> [Double] {
        try validateFeedback(indices: indices, losses: losses, count: count)
        return [Double](repeating: 1, count: indices.count)
    }

    public func stateBytes() -> [UInt8] {
        var w = ByteWriter()
        w.append(magic: Self.stateMagic)
        w.append(UInt64(count))
        generator.write(to: &w)
        w.append(counts: drawCounts)
        return w.bytes
    }

    public func restore(from bytes: [UInt8]) throws {
        var r = ByteReader(bytes, what: "uniform sampler state")
        try r.expect(magic: Self.stateMagic)
        let n = try r.count(bytesEach: 4)
        guard n == count else { throw SamplerError.sampleCountMismatch(checkpoint: n, expected: count) }
        let g = try SeededGenerator(from: &r)
        let counts = try r.counts(n)
        try r.expectEnd()
        generator = g
        drawCounts = counts
    }
}
