/// Work and data movement of one Winograd F(4,3) convolution as `WinogradF43` executes it (the
/// plan of `WinogradF43.standardTuning` for `threads`), counted from the code like the F(2,3)
/// model (`WinogradCost`), for the benchmark's per-layer limit.
///
/// Per chunk of R tile rows (C = R·tilesW GEMM columns: F(4,3) rows are not padded to whole
/// vectors; V = R·vectorTiles columns the transforms touch, since they load and store whole
/// vectors of 8 tiles and a row's last vector spills into the next row's columns or the
/// chunk's slack — with row groups, groupLanes per group of groupRows rows:
/// `WinogradF43Plan.touchedColumns`), for a pass from `a` channels to `b`:
///   - GEMM FLOPs: 2·216·a·b·C;
///   - memory side: input read = a·(W-lines the input transform loads)·W·4 bytes — the 6 × 6
///     lines (z, y) = (4td − 1 + i, 4th − 1 + j) of every row, those outside the volume not
///     loaded (no reuse between rows, unlike F(2,3)'s ring); output written = b·(valid output
///     voxels)·4 (min(4, D − 4td) · min(4, H − 4th) lines of W per row);
///   - cache side: transformed tiles 216·a·V·4 written by the input transform and 216·a·C·4 read
///     by the GEMMs; products 216·b·C·4 written by the GEMMs and 216·b·V·4 read by the output
///     transform; transformed weights 216·a·b·4 read by the GEMMs of every chunk (memory side
///     when larger than `WinogradTuning.chunkBytes`, as from 64 → 64 channels on: 3.5 MB).
/// The weight gradient reads x (as the forward's input) and dy (the output lines of each row,
/// which the gradient transform loads), writes 216·(Cin + Cout)·V·4 of tiles, its GEMMs read
/// 216·(Cin + Cout)·C·4, reads and writes its 216·Cin·Cout accumulator per chunk (same rule as
/// the transformed weights), reads dy once more for the bias gradient, and has 2·216·Cin·Cout·C
/// GEMM FLOPs. Weight transform: 27 floats read, 216 written per channel pair; its transpose for
/// the weight gradient: 216 read, 27 read and 27 written (`dweight +=`); both memory side. As in
/// the F(2,3) model, the sum of the workers' partial accumulators is not counted (it is work of
/// this implementation, not of the algorithm).
extension WinogradCost {
    static let f43Components = Double(WinogradF43.components)

    /// `WinogradF43.forward` (a = cin, b = cout).
    public static func f43Forward(n: Int, cin: Int, cout: Int, d: Int, h: Int, w: Int,
                                  threads: Int = Parallel.defaultThreads) -> WinogradCost {
        var t = WinogradF43.standardTuning
        t.threads = threads
        return f43Pass(n: n, from: cin, to: cout, d: d, h: h, w: w, tuning: t)
    }

    /// `WinogradF43.backwardWeight` plus, when `inputGradient`, `backwardInput` (cout → cin).
    public static func f43Backward(n: Int, cin: Int, cout: Int, d: Int, h: Int, w: Int, inputGradient: Bool,
                                   threads: Int = Parallel.defaultThreads) -> WinogradCost {
        var t = WinogradF43.standardTuning
        t.threads = threads
        let weight = f43WeightGradient(n: n, cin: cin, cout: cout, d: d, h: h, w: w, tuning: t)
        return inputGradient ? weight + f43Pass(n: n, from: cout, to: cin, d: d, h: h, w: w, tuning: t) : weight
    }

    /// W-lines of one channel the F(4,3) input transform loads for the rows of a chunk.
    static func f43InputLines(plan: WinogradF43Plan, rows: Range<Int>) -> Int {
        rows.reduce(0) { total, row in
            let (_, td, th) = plan.decode(row: row)
            let z0 = 4 * td - 1, y0 = 4 * th - 1
            let zs = min(plan.d, z0 + 6) - max(0, z0), ys = min(plan.h, y0 + 6) - max(0, y0)
            return total + zs * ys
        }
    }

    /// Output lines (of W voxels) inside the volume for the rows of a chunk (also the lines the
    /// gradient transform loads from dy).
    static func f43OutputLines(plan: WinogradF43Plan, rows: Range<Int>) -> Int {
        rows.reduce(0) { total, row in
            let (_, td, th) = plan.decode(row: row)
            return total + min(4, plan.d - 4 * td) * min(4, plan.h - 4 * th)
        }
    }

    static func f43Pass(n: Int, from a: Int, to b: Int, d: Int, h: Int, w: Int, tuning: WinogradTuning) -> WinogradCost {
        let plan = WinogradF43Plan(batch: n, d: d, h: h, w: w, channels: a + b, tuning: tuning)
        let ab = Double(a) * Double(b)
        var cost = WinogradCost(memoryBytes: floatBytes * (27 + f43Components) * ab)
        for chunk in 0..<plan.chunkCount {
            let rows = plan.rowRange(chunk: chunk)
            let columns = Double(plan.columns(rows: rows.count)), touched = Double(plan.touchedColumns(rows: rows.count))
            cost.gemmFLOPs += 2 * f43Components * ab * columns
            cost.memoryBytes += floatBytes * Double(w) * (Double(a * f43InputLines(plan: plan, rows: rows))
                                                         + Double(b * f43OutputLines(plan: plan, rows: rows)))
            cost.cacheBytes += floatBytes * f43Components * Double(a + b) * (columns + touched)
            cost.add(transformedWeightReads: floatBytes * f43Components * ab, tuning: tuning)
        }
        return cost
    }

    static func f43WeightGradient(n: Int, cin: Int, cout: Int, d: Int, h: Int, w: Int,
                                  tuning: WinogradTuning) -> WinogradCost {
        let plan = WinogradF43Plan(batch: n, d: d, h: h, w: w, channels: cin + cout, tuning: tuning)
        let ab = Double(cin) * Double(cout)
        var cost = WinogradCost(memoryBytes: floatBytes * (f43Components + 2 * 27) * ab)
        for chunk in 0..<plan.chunkCount {
            let rows = plan.rowRange(chunk: chunk)
            let columns = Double(plan.columns(rows: rows.count)), touched = Double(plan.touchedColumns(rows: rows.count))
            cost.gemmFLOPs += 2 * f43Components * ab * columns
            cost.memoryBytes += floatBytes * Double(w) * (Double(cin * f43InputLines(plan: plan, rows: rows))
                                                         + Double(cout * f43OutputLines(plan: plan, rows: rows)))
            cost.cacheBytes += floatBytes * f43Components * Double(cin + cout) * (touched + columns)
            cost.add(transformedWeightReads: 2 * floatBytes * f43Components * ab, tuning: tuning)
        }
        cost.memoryBytes += floatBytes * Double(n * cout * d * h * w)
        return cost
    }
}
