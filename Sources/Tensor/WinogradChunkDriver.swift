/// Runs the three phases of a Winograd convolution over the chunks of a plan:
///   1. `transformIn(row, localRow, item, lanes, buffers)` for every row of the chunk and every
///      input item (channel), writing into `buffers`' component-major chunk matrices;
///   2. `gemms(tiles, buffers)`: the 64 GEMMs of the chunk (`tiles` columns);
///   3. `transformOut(row, localRow, item, lanes, buffers)` for every row and output item.
/// `lanes` is the calling worker's scratch (line buffers, lane stage); `buffers` holds the chunk.
enum WinogradChunkDriver {
    typealias RowItemBody = (_ row: Int, _ localRow: Int, _ item: Int,
                             _ lanes: WinogradWorkerScratch, _ buffers: WinogradWorkerScratch) -> Void

    static func run(plan: WinogradPlan, threading: WinogradThreading, scratch: [WinogradWorkerScratch],
                    inputItems: Int, outputItems: Int, transformIn: RowItemBody,
                    gemms: (_ tiles: Int, _ buffers: WinogradWorkerScratch) -> Void,
                    transformOut: RowItemBody) {
        let workers = scratch.count
        switch threading {
        case .workersOwnChunks:
            // Worker k takes chunks k, k + workers, …; every phase of a chunk stays on its core.
            winogradRunWorkers(workers, threading: threading) { k in
                var chunk = k
                while chunk < plan.chunkCount {
                    let rows = plan.rowRange(chunk: chunk)
                    let s = scratch[k]
                    for row in rows {
                        for item in 0..<inputItems { transformIn(row, row - rows.lowerBound, item, s, s) }
                    }
                    gemms(rows.count * plan.tilesW, s)
                    for row in rows {
                        for item in 0..<outputItems { transformOut(row, row - rows.lowerBound, item, s, s) }
                    }
                    chunk += workers
                }
            }
        case .blasThreads:
            // One chunk at a time in worker 0's buffers; (row, item) pairs split over workers for
            // the transforms, GEMMs on OpenBLAS's threads from this thread.
            let buffers = scratch[0]
            for chunk in 0..<plan.chunkCount {
                let rows = plan.rowRange(chunk: chunk)
                split(rows: rows, items: inputItems, workers: workers) { row, item, k in
                    transformIn(row, row - rows.lowerBound, item, scratch[k], buffers)
                }
                gemms(rows.count * plan.tilesW, buffers)
                split(rows: rows, items: outputItems, workers: workers) { row, item, k in
                    transformOut(row, row - rows.lowerBound, item, scratch[k], buffers)
                }
            }
        }
    }

    /// Splits the (row, item) pairs of `rows` × 0..<items into `workers` contiguous blocks.
    private static func split(rows: Range<Int>, items: Int, workers: Int, _ body: (Int, Int, Int) -> Void) {
        let total = rows.count * items
        guard total > 0 else { return }
        Parallel.forEach(count: workers, threads: workers) { k in
            for pair in total * k / workers ..< total * (k + 1) / workers {
                body(rows.lowerBound + pair / items, pair % items, k)
            }
        }
    }
}
