import Synchronization

/// Runs the three phases of a Winograd convolution over the chunks of a plan:
///   1. `transformIn(chunkRows, rows, item, lanes, buffers)` for the rows of the chunk and every
///      input item (channel), writing into `buffers`' [channel][ξ][tile] chunk matrices;
///   2. `gemms(tiles, buffers)`: the 64 GEMMs of the chunk (`tiles` columns);
///   3. `transformOut(chunkRows, rows, item, lanes, buffers)` for the rows and every output item.
/// `rows` ⊆ `chunkRows` (whole chunk unless split over workers); `lanes` is the calling worker's
/// scratch (line buffers, edge vector); `buffers` holds the chunk.
enum WinogradChunkDriver {
    typealias RowsItemBody = (_ chunkRows: Range<Int>, _ rows: Range<Int>, _ item: Int,
                              _ lanes: WinogradWorkerScratch, _ buffers: WinogradWorkerScratch) -> Void

    static func run(plan: WinogradPlan, threading: WinogradThreading, scratch: [WinogradWorkerScratch],
                    inputItems: Int, outputItems: Int, fixedAssignment: Bool, transformIn: RowsItemBody,
                    gemms: (_ tiles: Int, _ buffers: WinogradWorkerScratch) -> Void,
                    transformOut: RowsItemBody) {
        let workers = scratch.count
        switch threading {
        case .workersOwnChunks:
            // Every phase of a chunk stays on its worker's core. With `fixedAssignment` worker k
            // takes chunks k, k + workers, … (per-worker sums then do not depend on timing);
            // otherwise workers take the next unclaimed chunk, so a worker preempted on a shared
            // machine does not hold back a fixed share.
            let next = Atomic<Int>(0)
            winogradRunWorkers(workers, threading: threading) { k in
                var claimed = 0
                while true {
                    let chunk = fixedAssignment ? k + claimed * workers
                                                : next.wrappingAdd(1, ordering: .relaxed).oldValue
                    claimed += 1
                    if chunk >= plan.chunkCount { break }
                    let rows = plan.rowRange(chunk: chunk)
                    let s = scratch[k]
                    for item in 0..<inputItems { transformIn(rows, rows, item, s, s) }
                    gemms(plan.columns(rows: rows.count), s)
                    for item in 0..<outputItems { transformOut(rows, rows, item, s, s) }
                }
            }
        case .blasThreads:
            // One chunk at a time in worker 0's buffers; items (or rows, when there are fewer
            // items than workers) split over workers for the transforms, GEMMs on OpenBLAS's
            // threads from this thread.
            let buffers = scratch[0]
            for chunk in 0..<plan.chunkCount {
                let rows = plan.rowRange(chunk: chunk)
                split(rows: rows, items: inputItems, workers: workers) { part, item, k in
                    transformIn(rows, part, item, scratch[k], buffers)
                }
                gemms(plan.columns(rows: rows.count), buffers)
                split(rows: rows, items: outputItems, workers: workers) { part, item, k in
                    transformOut(rows, part, item, scratch[k], buffers)
                }
            }
        }
    }

    /// Splits rows × items over `workers`: by item when there are at least as many items as
    /// workers, else each item's rows into `workers` parts.
    private static func split(rows: Range<Int>, items: Int, workers: Int, _ body: (Range<Int>, Int, Int) -> Void) {
        guard items > 0, !rows.isEmpty else { return }
        let parts = items >= workers ? 1 : min(workers, rows.count)
        let total = items * parts
        Parallel.forEach(count: workers, threads: workers) { k in
            for unit in total * k / workers ..< total * (k + 1) / workers {
                let item = unit / parts, part = unit % parts
                let lo = rows.lowerBound + rows.count * part / parts
                let hi = rows.lowerBound + rows.count * (part + 1) / parts
                body(lo..<hi, item, k)
            }
        }
    }
}
