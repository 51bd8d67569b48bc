/// How much of the training iterations' time went into building batches (patch placement, cut
/// and augmentation), summed from train_log.csv's `data_seconds` and `step_seconds` columns —
/// every logged iteration, resumed sessions included. Issue 6 asks for it to stay under 15 %.
public struct DataTimeShare: Equatable {
    /// Iterations whose two timing columns were read.
    public var iterations: Int
    /// Σ data_seconds.
    public var dataSeconds: Double
    /// Σ step_seconds (each iteration's whole step; the batch building is part of it).
    public var stepSeconds: Double

    /// dataSeconds / stepSeconds in [0, 1]; nil without timed iterations.
    public var fraction: Double? {
        stepSeconds > 0 ? min(1, max(0, dataSeconds / stepSeconds)) : nil
    }

    /// The end-of-run line, e.g. "data preparation: 4.2 % of iteration time (12.3 s of 291.0 s over 900 iterations)".
    public var summary: String {
        guard let fraction else { return "data preparation: no timed iterations in the log" }
        return "data preparation: " + String(format: "%.1f %% of iteration time (%.1f s of %.1f s over %d iterations)",
                                             100 * fraction, dataSeconds, stepSeconds, iterations)
    }

    /// Sums the timing columns of a train_log.csv; rows without them (or unparsable) are skipped.
    public static func read(run: RunDirectory) throws -> DataTimeShare {
        let rows = try RunLogReader.rows(path: run.file(RunDirectory.trainLogName))
        var share = DataTimeShare(iterations: 0, dataSeconds: 0, stepSeconds: 0)
        for row in rows {
            guard let data = row["data_seconds"].flatMap(Double.init), let step = row["step_seconds"].flatMap(Double.init),
                  data.isFinite, step.isFinite else { continue }
            share.iterations += 1
            share.dataSeconds += data
            share.stepSeconds += step
        }
        return share
    }
}
