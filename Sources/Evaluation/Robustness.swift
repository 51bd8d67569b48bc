/// One case's value in a worst-case list.
public struct RankedCase: Sendable, Equatable {
    public var caseID: String
    public var value: Double
}

/// Robustness view of one method for one label over a set of cases (all, or one group).
public struct LabelSummary: Sendable {
    public var label: LabelInfo
    /// nil = all cases.
    public var group: String?
    public var caseCount: Int
    public var dice: MetricSummary
    public var hd95: MetricSummary
    /// Lowest Dice first (nan excluded; ties by case id).
    public var worstDice: [RankedCase]
    /// Highest HD95 first, +inf (one mask empty) ranking worst (nan excluded; ties by case id).
    public var worstHD95: [RankedCase]
}

public enum Robustness {
    /// Default number of worst cases listed (`--worst`).
    public static let defaultWorstCount = 5

    /// Summaries of `method` for every label: over all cases, then per group (sorted by name)
    /// when groups are present.
    public static func summaries(_ results: EvaluationResults, method: Int, worst k: Int) -> [LabelSummary] {
        let groups = Set(results.cases.compactMap(\.group)).sorted()
        var out: [LabelSummary] = []
        for (l, label) in results.labels.enumerated() {
            out.append(summary(results.cases, method: method, labelIndex: l, label: label, group: nil, worst: k))
            for g in groups {
                out.append(summary(results.cases.filter { $0.group == g }, method: method,
                                   labelIndex: l, label: label, group: g, worst: k))
            }
        }
        return out
    }

    static func summary(_ cases: [CaseResult], method: Int, labelIndex: Int, label: LabelInfo,
                        group: String?, worst k: Int) -> LabelSummary {
        let dice = cases.map { RankedCase(caseID: $0.caseID, value: $0.metrics[method][labelIndex].dice) }
        let hd95 = cases.map { RankedCase(caseID: $0.caseID, value: $0.metrics[method][labelIndex].hd95) }
        let worstDice = dice.filter { !$0.value.isNaN }
            .sorted { ($0.value, $0.caseID) < ($1.value, $1.caseID) }
        let worstHD = hd95.filter { !$0.value.isNaN }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.caseID < $1.caseID }
        return LabelSummary(label: label, group: group, caseCount: cases.count,
                            dice: MetricSummary(dice.map(\.value)), hd95: MetricSummary(hd95.map(\.value)),
                            worstDice: Array(worstDice.prefix(k)), worstHD95: Array(worstHD.prefix(k)))
    }
}
