// Group-balanced sampler (`sampler.kind: group_balanced`): the oracle baseline that knows the
// groups, as in Group-DRO comparisons. A draw picks one of the G groups uniformly, then a sample
// uniformly within it: p_i = 1 / (G · n_g(i)), fixed for the whole run. Batches hold B distinct
// indices by successive draws, each renormalised over the indices not yet drawn (the law of the
// other samplers and of numpy's `choice(N, B, replace=False, p=p)`): draw k follows
// p_i / (1 − Σ_{drawn} p_j). A draw is one O(N) walk over the cumulative weights of the undrawn
// indices (N is the number of training cases or patch cells; cheap next to a network step).
// Importance weights are all 1; the losses fed back are only kept for the logs.
// State: "DROGRB01", N, generator, draw counts, last losses (the groups are rebuilt from the data
// and checked against the stored group index of each sample).

import Common

public final class GroupBalancedSampler: Sampler {
    public private(set) var generator: SeededGenerator
    private var log: LossLog
    public var drawCounts: [UInt32] { log.drawCounts }
    /// The last loss fed back per sample (nan before its first draw); logs only.
    public var lastLosses: [Double] { log.lastLosses }
    /// Group names, sorted; `groupOf[i]` indexes it.
    public let groupNames: [String]
    public let groupOf: [Int]
    /// p_i = 1 / (G · n_g(i)).
    public let probabilities: [Double]
    static let stateMagic = "DROGRB01"

    public var count: Int { groupOf.count }

    /// `groups[i]`: the group of sample i. Every sample needs a non-empty group.
    public init(groups: [String], generator: SeededGenerator) throws {
        guard !groups.isEmpty else { throw SamplerError.invalidInitialLosses("a sampler needs at least 1 sample, got 0") }
        if let k = groups.firstIndex(where: { $0.isEmpty }) {
            throw SamplerError.invalidOption(option: "sampler.kind", value: "group_balanced",
                                             allowed: "only with a group for every training case (data.groups); sample \(k) has none")
        }
        groupNames = Array(Set(groups)).sorted()
        let index = Dictionary(uniqueKeysWithValues: groupNames.enumerated().map { ($1, $0) })
        groupOf = groups.map { index[$0]! }
        var sizes = [Int](repeating: 0, count: groupNames.count)
        for g in groupOf { sizes[g] += 1 }
        let g = Double(groupNames.count)
        probabilities = groupOf.map { 1 / (g * Double(sizes[$0])) }
        log = LossLog(count: groups.count)
        self.generator = generator
    }

    public func nextBatch(size: Int) throws -> [Int] {
        guard size >= 1, size <= count else { throw SamplerError.invalidBatchSize(requested: size, samples: count) }
        var taken = [Bool](repeating: false, count: count)
        var remaining = 1.0
        var batch = [Int](); batch.reserveCapacity(size)
        for _ in 0 ..< size {
            // Σ over undrawn p_j, recomputed (not 1 − Σ drawn) so rounding cannot leave u past the end.
            remaining = 0
            for i in 0 ..< count where !taken[i] { remaining += probabilities[i] }
            let u = generator.nextDouble() * remaining
            var chosen = -1, sum = 0.0
            for i in 0 ..< count where !taken[i] {
                chosen = i
                sum += probabilities[i]
                if u < sum { break }
            }
            taken[chosen] = true
            batch.append(chosen)
        }
        log.recordDraws(batch)
        return batch
    }

    public func feedBack(indices: [Int], losses: [Double]) throws -> [Double] {
        try log.feedBack(indices: indices, losses: losses)
    }

    /// Last losses, p_i and the draw counts.
    public func snapshot() -> [SampleSnapshot] {
        log.snapshot { probabilities[$0] }
    }

    public func stateBytes() -> [UInt8] {
        var w = ByteWriter()
        w.append(magic: Self.stateMagic)
        w.append(UInt64(count))
        generator.write(to: &w)
        log.write(to: &w)
        w.append(contentsOf: groupOf.map { UInt32($0) })
        return w.bytes
    }

    public func restore(from bytes: [UInt8]) throws {
        var r = ByteReader(bytes, what: "group-balanced sampler state")
        try r.expect(magic: Self.stateMagic)
        let n = try r.count("sample", elementSize: 16)
        guard n == count else { throw SamplerError.sampleCountMismatch(checkpoint: n, expected: count) }
        let g = try SeededGenerator(from: &r)
        let counts = try r.uint32s(count: n, "draw counts")
        let losses = try r.doubles(count: n, "last losses")
        let groups = try r.uint32s(count: n, "groups")
        try r.finish()
        guard groups.map({ Int($0) }) == groupOf else {
            throw SamplerError.corruptState("group-balanced sampler state: the checkpoint's groups differ from data.groups")
        }
        generator = g
        log = LossLog(drawCounts: counts, lastLosses: losses)
    }
}
