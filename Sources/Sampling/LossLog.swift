// What a sampler with a fixed law (uniform, group-balanced) keeps besides its generator: how often
// each sample was drawn and the last loss fed back for it (nan before its first draw). The losses
// never change the law; they are kept for the logs and the checkpoint. Serialised as the draw
// counts (N UInt32) followed by the last losses (N Doubles), the layout of both samplers' states.

import Common

struct LossLog {
    var drawCounts: [UInt32]
    var lastLosses: [Double]

    init(count: Int) {
        drawCounts = [UInt32](repeating: 0, count: count)
        lastLosses = [Double](repeating: .nan, count: count)
    }

    init(drawCounts: [UInt32], lastLosses: [Double]) {
        self.drawCounts = drawCounts
        self.lastLosses = lastLosses
    }

    var count: Int { drawCounts.count }

    /// Counts one draw of every index in `batch` (saturating).
    mutating func recordDraws(_ batch: [Int]) {
        for i in batch where drawCounts[i] < UInt32.max { drawCounts[i] += 1 }
    }

    /// Validates and keeps the losses; the importance weights of a fixed law are all 1.
    mutating func feedBack(indices: [Int], losses: [Double]) throws -> [Double] {
        try validateFeedback(indices: indices, losses: losses, count: count)
        for (i, loss) in zip(indices, losses) { lastLosses[i] = loss }
        return [Double](repeating: 1, count: indices.count)
    }

    /// One snapshot per sample with probability `probability(i)`.
    func snapshot(probability: (Int) -> Double) -> [SampleSnapshot] {
        (0 ..< count).map { SampleSnapshot(staleLoss: lastLosses[$0], probability: probability($0), draws: Int(drawCounts[$0])) }
    }

    func write(to w: inout ByteWriter) {
        w.append(contentsOf: drawCounts)
        w.append(contentsOf: lastLosses)
    }
}
