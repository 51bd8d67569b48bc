/// Descriptive statistics as numpy computes them.
public enum Statistics {
    /// Percentile `p` ∈ [0, 100] of ascending `sorted` values with linear interpolation
    /// (numpy's default method "linear"): virtual index h = (n−1)·p/100, value
    /// a[⌊h⌋] + (h−⌊h⌋)·(a[⌊h⌋+1] − a[⌊h⌋]). nan for an empty array.
    public static func percentile(sorted a: [Double], _ p: Double) -> Double {
        guard !a.isEmpty else { return .nan }
        let h = Double(a.count - 1) * (p / 100)
        let lower = min(max(Int(h.rounded(.down)), 0), a.count - 1)
        let upper = min(lower + 1, a.count - 1)
        let t = h - Double(lower)
        let lo = a[lower], hi = a[upper]
        // numpy's _lerp: from the nearer end, so that t = 1 returns hi exactly.
        let diff = hi - lo
        return t >= 0.5 ? hi - diff * (1 - t) : lo + diff * t
    }

    /// Percentile of unsorted values.
    public static func percentile(_ values: [Double], _ p: Double) -> Double {
        percentile(sorted: values.sorted(), p)
    }

    /// Arithmetic mean; nan when empty.
    public static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    /// Population standard deviation (ddof = 0, numpy's default); nan when empty.
    public static func standardDeviation(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let m = mean(values)
        let ss = values.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (ss / Double(values.count)).squareRoot()
    }
}

/// Summary of one metric over cases: finite values only, with the nan and inf counts that were
/// excluded stated (docs/method.md §5.5).
public struct MetricSummary: Sendable, Equatable {
    /// Percentiles reported besides the median; robustness is read in the low percentiles of
    /// Dice and the high percentiles of HD95 (docs/method.md §6).
    public static let percentileLevels: [Double] = [5, 10, 25, 75, 90, 95]

    /// Number of finite values summarised.
    public var count: Int
    public var nanCount: Int
    public var infCount: Int
    public var mean: Double
    public var std: Double
    public var median: Double
    /// Values at `percentileLevels`, same order.
    public var percentiles: [Double]

    public init(_ values: [Double]) {
        let finite = values.filter { $0.isFinite }.sorted()
        count = finite.count
        nanCount = values.filter { $0.isNaN }.count
        infCount = values.filter { $0.isInfinite }.count
        mean = Statistics.mean(finite)
        std = Statistics.standardDeviation(finite)
        median = Statistics.percentile(sorted: finite, 50)
        percentiles = MetricSummary.percentileLevels.map { Statistics.percentile(sorted: finite, $0) }
    }

    /// Value at a percentile level listed in `percentileLevels` (or 50 for the median).
    public func value(atPercentile p: Double) -> Double? {
        if p == 50 { return median }
        return MetricSummary.percentileLevels.firstIndex(of: p).map { percentiles[$0] }
    }
}
