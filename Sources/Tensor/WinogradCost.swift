/// Work and data movement of one Winograd F(2,3) convolution as `WinogradConv3d` executes it
/// (the plan of `WinogradTuning.standard` for `threads`), counted from the code, for the
/// benchmark's per-layer limit (docs/performance.md, "Winograd layers against their limit").
///
/// Per chunk of R tile rows (C = R·rowStride GEMM columns, padding columns included where the
/// plan has them, since the transforms write them and the GEMMs multiply them; none with
/// unpadded rows), for a pass from `a` channels to `b`:
///   - GEMM FLOPs: 2·64·a·b·C;
///   - memory side (read from / written to the activation tensors, which do not fit in cache):
///     input read = a·(W-lines the input transform loads)·W·4 bytes — 16 lines for the first row
///     of a chunk or of a (sample, tile depth), 8 for each following row (the ring reuses
///     y = 2th+1, 2th+2), lines outside the volume (zero padding) not loaded;
///     output written = b·(valid output voxels of the chunk)·4;
///   - cache side (the chunk buffers, sized by `WinogradTuning.chunkBytes` to stay in one core's
///     L2): transformed tiles 64·a·C·4 written by the input transform and read once by the
///     GEMMs, products 64·b·C·4 written by the GEMMs and read once by the output transform,
///     transformed weights 64·a·b·4 read by the GEMMs of every chunk (on the memory side instead
///     when they are larger than `WinogradTuning.chunkBytes`, as at 128 → 128 channels).
/// The weight gradient reads x (Cin channels, as the forward's input) and dy (4 output lines
/// per row and output channel), writes 64·(Cin + Cout)·C·4 of tiles read once by its GEMMs,
/// reads and writes its 64·Cin·Cout accumulator per chunk (cache side unless larger than the
/// chunk budget, as the transformed weights), and reads dy once more
/// for the bias gradient (memory side); it has 2·64·Cin·Cout·C GEMM FLOPs. The weight
/// transforms (27 → 64 floats per channel pair, once per call) are counted on the memory side.
public struct WinogradCost: Sendable, Equatable {
    public var gemmFLOPs: Double = 0
    /// Bytes read from and written to the activation tensors (and the weights).
    public var memoryBytes: Double = 0
    /// Bytes written and read in the chunk buffers (and of the transformed weights per chunk).
    public var cacheBytes: Double = 0

    public init(gemmFLOPs: Double = 0, memoryBytes: Double = 0, cacheBytes: Double = 0) {
        self.gemmFLOPs = gemmFLOPs; self.memoryBytes = memoryBytes; self.cacheBytes = cacheBytes
    }

    public static func + (l: WinogradCost, r: WinogradCost) -> WinogradCost {
        WinogradCost(gemmFLOPs: l.gemmFLOPs + r.gemmFLOPs, memoryBytes: l.memoryBytes + r.memoryBytes,
                     cacheBytes: l.cacheBytes + r.cacheBytes)
    }

    /// Seconds at `gflops` GEMM rate, `memoryGBs` for the memory side, `cacheGBs` for the cache side.
    public func limitSeconds(gflops: Double, memoryGBs: Double, cacheGBs: Double) -> Double {
        gemmFLOPs / (gflops * 1e9) + memoryBytes / (memoryGBs * 1e9) + cacheBytes / (cacheGBs * 1e9)
    }

    static let floatBytes = Double(MemoryLayout<Float>.size)
    static let components = Double(WinogradWeightTransforms.components)

    /// `WinogradConv3d.forward` (a = cin, b = cout). `unpaddedRows`: the plan's row layout
    /// (nil: `WinogradTuning.standard`'s, i.e. what the convolution runs).
    public static func forward(n: Int, cin: Int, cout: Int, d: Int, h: Int, w: Int,
                               threads: Int = Parallel.defaultThreads, unpaddedRows: Bool? = nil) -> WinogradCost {
        var t = WinogradTuning.standard
        t.threads = threads
        if let unpaddedRows { t.unpaddedRows = unpaddedRows }
        return pass(n: n, from: cin, to: cout, d: d, h: h, w: w, tuning: t)
    }

    /// `WinogradConv3d.backwardWeight` plus, when `inputGradient`, `backwardInput` (cout → cin).
    public static func backward(n: Int, cin: Int, cout: Int, d: Int, h: Int, w: Int, inputGradient: Bool,
                                threads: Int = Parallel.defaultThreads, unpaddedRows: Bool? = nil) -> WinogradCost {
        var t = WinogradTuning.standard
        t.threads = threads
        if let unpaddedRows { t.unpaddedRows = unpaddedRows }
        let weight = weightGradient(n: n, cin: cin, cout: cout, d: d, h: h, w: w, tuning: t)
        return inputGradient ? weight + pass(n: n, from: cout, to: cin, d: d, h: h, w: w, tuning: t) : weight
    }

    /// W-lines of one channel the input transform loads for the rows of a chunk (see the type's comment).
    static func inputLines(plan: WinogradPlan, rows: Range<Int>) -> Int {
        var lines = 0
        var previous = (n: -1, td: -1, th: -1)
        for row in rows {
            let (s, td, th) = plan.decode(row: row)
            let reuse = previous.n == s && previous.td == td && previous.th + 1 == th
            for i in 0..<4 {
                for j in (reuse ? 2 : 0)..<4 {
                    let z = 2 * td - 1 + i, y = 2 * th - 1 + j
                    if z >= 0 && z < plan.d && y >= 0 && y < plan.h { lines += 1 }
                }
            }
            previous = (s, td, th)
        }
        return lines
    }

    /// Output lines (of W voxels) inside the volume for the rows of a chunk: 2 × 2 per row, fewer
    /// on the last tile depth / height of an odd D / H.
    static func outputLines(plan: WinogradPlan, rows: Range<Int>) -> Int {
        rows.reduce(0) { total, row in
            let (_, td, th) = plan.decode(row: row)
            return total + min(2, plan.d - 2 * td) * min(2, plan.h - 2 * th)
        }
    }

    static func pass(n: Int, from a: Int, to b: Int, d: Int, h: Int, w: Int, tuning: WinogradTuning) -> WinogradCost {
        let plan = WinogradPlan(batch: n, d: d, h: h, w: w, channels: a + b, tuning: tuning)
        var cost = weightTransform(cin: a, cout: b)
        let ab = Double(a) * Double(b)
        for chunk in 0..<plan.chunkCount {
            let rows = plan.rowRange(chunk: chunk)
            let columns = Double(plan.columns(rows: rows.count))
            cost.gemmFLOPs += 2 * components * ab * columns
            cost.memoryBytes += floatBytes * Double(w) * (Double(a * inputLines(plan: plan, rows: rows))
                                                         + Double(b * outputLines(plan: plan, rows: rows)))
            cost.cacheBytes += floatBytes * components * 2 * Double(a + b) * columns
            cost.add(transformedWeightReads: floatBytes * components * ab, tuning: tuning)
        }
        return cost
    }

    static func weightGradient(n: Int, cin: Int, cout: Int, d: Int, h: Int, w: Int, tuning: WinogradTuning) -> WinogradCost {
        let plan = WinogradPlan(batch: n, d: d, h: h, w: w, channels: cin + cout, tuning: tuning)
        var cost = weightTransform(cin: cin, cout: cout)
        let ab = Double(cin) * Double(cout)
        for chunk in 0..<plan.chunkCount {
            let rows = plan.rowRange(chunk: chunk)
            let columns = Double(plan.columns(rows: rows.count))
            cost.gemmFLOPs += 2 * components * ab * columns
            cost.memoryBytes += floatBytes * Double(w) * (Double(cin * inputLines(plan: plan, rows: rows))
                                                         + Double(cout * outputLines(plan: plan, rows: rows)))
            // Tiles written then read; the accumulator read and written (same rule as the weights).
            cost.cacheBytes += floatBytes * components * 2 * Double(cin + cout) * columns
            cost.add(transformedWeightReads: 2 * floatBytes * components * ab, tuning: tuning)
        }
        // Bias gradient: dy read once more.
        cost.memoryBytes += floatBytes * Double(n * cout * d * h * w)
        return cost
    }

    /// The transformed weights (64·a·b floats), read by the GEMMs of every chunk: cache side when
    /// they fit in the chunk budget (`WinogradTuning.chunkBytes`, half an L2 here), else memory side
    /// (e.g. 4 MiB at 128 → 128 channels).
    mutating func add(transformedWeightReads bytes: Double, tuning: WinogradTuning) {
        if bytes <= Double(tuning.chunkBytes) { cacheBytes += bytes } else { memoryBytes += bytes }
    }

    /// Weight transform (or its transpose for the weight gradient): 27 floats read and 64
    /// written per channel pair.
    static func weightTransform(cin: Int, cout: Int) -> WinogradCost {
        WinogradCost(memoryBytes: floatBytes * (27 + components) * Double(cin) * Double(cout))
    }
}
