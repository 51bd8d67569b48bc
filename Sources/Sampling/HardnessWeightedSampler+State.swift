// Checkpoint state, probabilities, "hardest k" and memory of the hardness weighted sampler.
//
// State bytes (little-endian): "DROHWS01", N, β, m, L_init, importance flag, clip lower/upper,
// floor, c, rebuild count, generator state, L̃ (N Doubles), draw counts (N UInt32). The tree is
// not stored: it is rebuilt from L̃ and the saved c, which reproduces it bit for bit (internal
// nodes are always the sums of their children), so a restored run continues bit-identically.

import Common
import Foundation

extension HardnessWeightedSampler {
    static let stateMagic = "DROHWS01"

    /// Exact current distribution p (O(N)): p_i = max(e_i, τ) / Σ_j max(e_j, τ), τ = ε·S,
    /// from the tree's leaves e_i = exp(β(L̃_i − c)) and its root S.
    public func probabilities() -> [Double] {
        let tau = floorEpsilon * tree.total
        var floored = [Double](repeating: 0, count: count)
        var z = 0.0
        for i in 0 ..< count {
            floored[i] = Swift.max(tree.leaf(i), tau)
            z += floored[i]
        }
        return floored.map { $0 / z }
    }

    public func snapshot() -> [SampleSnapshot] {
        let p = probabilities()
        return (0 ..< count).map { SampleSnapshot(staleLoss: staleLosses[$0], probability: p[$0], draws: Int(drawCounts[$0])) }
    }

    /// Root of the sum tree, S = Σ exp(β(L̃_i − c)).
    public var treeTotal: Double { tree.total }

    /// The k samples with the largest stale loss, largest first (ties: smaller index first).
    public func hardest(_ k: Int) -> [(index: Int, staleLoss: Double)] {
        topK(staleLosses, k).map { ($0, staleLosses[$0]) }
    }

    /// Bytes the sampler holds per sample: L̃ (8), draw count (4) and 2 tree nodes (16).
    public var bytesPerSample: Double {
        Double(memoryBytes) / Double(count)
    }

    /// Bytes of the per-sample arrays (L̃, counts, tree nodes).
    public var memoryBytes: Int {
        staleLosses.count * MemoryLayout<Double>.stride + drawCounts.count * MemoryLayout<UInt32>.stride
            + tree.byteCount
    }

    public func stateBytes() -> [UInt8] {
        var w = ByteWriter()
        w.reserve(128 + count * 12)
        w.append(magic: Self.stateMagic)
        w.append(UInt64(count))
        w.append(options.beta); w.append(options.momentum); w.append(options.initLoss)
        w.append(options.importanceSampling)
        w.append(options.clip.lower); w.append(options.clip.upper); w.append(options.floor)
        w.append(reference)
        w.append(UInt64(rebuildCount))
        generator.write(to: &w)
        w.append(contentsOf: staleLosses)
        w.append(contentsOf: drawCounts)
        return w.bytes
    }

    public func restore(from bytes: [UInt8]) throws {
        var r = ByteReader(bytes, what: "hardness sampler state")
        try r.expect(magic: Self.stateMagic)
        let n = try r.count("sample", elementSize: 12)
        guard n == count else { throw SamplerError.sampleCountMismatch(checkpoint: n, expected: count) }
        var o = HardnessSamplerOptions()
        o.beta = try r.double(); o.momentum = try r.double(); o.initLoss = try r.double()
        o.importanceSampling = try r.bool()
        o.clip = ClipRange(lower: try r.double(), upper: try r.double())
        o.floor = try r.double()
        try o.validate()
        let c = try r.double()
        let rebuilds = try r.uint64()
        let g = try SeededGenerator(from: &r)
        let stale = try r.doubles(count: n, "stale losses")
        let counts = try r.uint32s(count: n, "draw counts")
        try r.finish()
        guard c.isFinite, stale.allSatisfy({ $0.isFinite && abs($0) <= HardnessSamplerOptions.maxAbsLoss }) else {
            throw SamplerError.corruptState("hardness sampler state holds a non-finite or out-of-range loss")
        }
        // The saved c must satisfy the invariants every update keeps (no leaf above e^600, total
        // at least e^−300); checked before anything is changed, so a refused restore changes nothing.
        let total = stale.reduce(0.0) { $0 + Foundation.exp(o.beta * ($1 - c)) }
        guard stale.allSatisfy({ o.beta * ($0 - c) <= Self.overflowExponentLimit }), total >= Self.minimumTotal else {
            throw SamplerError.corruptState("hardness sampler state: reference c = \(c) is inconsistent with the history")
        }
        options = o
        reference = c
        rebuildCount = Int(clamping: rebuilds)
        generator = g
        staleLosses = stale
        drawCounts = counts
        rebuildTree()
    }

    /// A sampler rebuilt from checkpoint bytes alone (sample count taken from the bytes).
    public static func restored(from bytes: [UInt8]) throws -> HardnessWeightedSampler {
        var r = ByteReader(bytes, what: "hardness sampler state")
        try r.expect(magic: stateMagic)
        let n = try r.count("sample", elementSize: 12)
        guard n >= 1 else { throw SamplerError.corruptState("hardness sampler state has 0 samples") }
        let s = try HardnessWeightedSampler(initialLosses: [Double](repeating: 0, count: n),
                                            options: HardnessSamplerOptions(), generator: SeededGenerator(seed: 0))
        try s.restore(from: bytes)
        return s
    }
}

/// Indices of the k largest values, largest first, ties by smaller index; O(N log k) with a
/// min-heap of the current top k.
func topK(_ values: [Double], _ k: Int) -> [Int] {
    let k = Swift.min(Swift.max(k, 0), values.count)
    guard k > 0 else { return [] }
    // "a ranks below b": smaller value, or equal value and larger index.
    func below(_ a: Int, _ b: Int) -> Bool { values[a] < values[b] || (values[a] == values[b] && a > b) }
    var heap = [Int](); heap.reserveCapacity(k)
    func siftDown(_ start: Int) {
        var p = start
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < heap.count && below(heap[l], heap[m]) { m = l }
            if r < heap.count && below(heap[r], heap[m]) { m = r }
            if m == p { return }
            heap.swapAt(p, m); p = m
        }
    }
    for i in 0 ..< values.count {
        if heap.count < k {
            heap.append(i)
            var c = heap.count - 1
            while c > 0, below(heap[c], heap[(c - 1) / 2]) { heap.swapAt(c, (c - 1) / 2); c = (c - 1) / 2 }
        } else if below(heap[0], i) {
            heap[0] = i
            siftDown(0)
        }
    }
    return heap.sorted { below($1, $0) }
}
