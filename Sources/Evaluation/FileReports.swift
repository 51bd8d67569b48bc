import Foundation

/// Machine-readable outputs: per-case CSV and summary JSON.
public enum FileReports {
    /// Name of each method in reports: the primary prediction, then the comparison.
    static func methodName(_ m: Int) -> String { m == 0 ? "pred" : "compare" }

    /// Per-case rows. Columns `case,label,dice,hd,hd95,assd,n_gt,n_pred,empty` first, then the
    /// label name, group, volumes (mm³), surface Dice when requested, and the comparison
    /// method's dice/hd/hd95/assd when `--compare` is given. Non-finite values as inf/nan.
    public static func csv(_ r: EvaluationResults) -> String {
        let hasNSD = r.options.surfaceDiceTolerance != nil
        var header = ["case", "label", "dice", "hd", "hd95", "assd", "n_gt", "n_pred", "empty",
                      "label_name", "group", "volume_gt_mm3", "volume_pred_mm3", "volume_diff_mm3"]
        if hasNSD { header.append("surface_dice") }
        if r.methods.count > 1 { header += ["compare_dice", "compare_hd", "compare_hd95", "compare_assd"] }
        var lines = [header.joined(separator: ",")]
        for c in r.cases {
            for (l, label) in r.labels.enumerated() {
                let m = c.metrics[0][l]
                var row = [TextFormat.csvField(c.caseID), "\(label.value)", TextFormat.exact(m.dice),
                           TextFormat.exact(m.hd), TextFormat.exact(m.hd95), TextFormat.exact(m.assd),
                           "\(m.nGT)", "\(m.nPred)", m.empty.rawValue, TextFormat.csvField(label.name),
                           TextFormat.csvField(c.group ?? ""), TextFormat.exact(m.volumeGT),
                           TextFormat.exact(m.volumePred), TextFormat.exact(m.volumeDifference)]
                if hasNSD { row.append(TextFormat.exact(m.surfaceDice ?? .nan)) }
                if r.methods.count > 1 {
                    let o = c.metrics[1][l]
                    row += [o.dice, o.hd, o.hd95, o.assd].map(TextFormat.exact)
                }
                lines.append(row.joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Summary JSON: settings, labels, errors and missing cases, the robustness view per method,
    /// label and group, and every per-case metric.
    public static func json(_ r: EvaluationResults, worst k: Int) -> String {
        var methods: [(String, JSONValue)] = []
        for m in 0..<r.methods.count {
            let summaries = Robustness.summaries(r, method: m, worst: k).map(summaryJSON)
            methods.append((methodName(m), .object([("source", .string(r.methods[m])),
                                                     ("summaries", .array(summaries))])))
        }
        var rows: [JSONValue] = []
        for c in r.cases {
            for m in 0..<r.methods.count {
                for (l, label) in r.labels.enumerated() {
                    rows.append(caseJSON(c, method: m, label: label, metrics: c.metrics[m][l]))
                }
            }
        }
        let root = JSONValue.object([
            ("tool", .string("dro-eval")),
            ("hd95_mode", .string(r.options.hd95Mode.rawValue)),
            ("surface_dice_tolerance_mm", r.options.surfaceDiceTolerance.map(JSONValue.number) ?? .null),
            ("labels", .array(r.labels.map { .object([("value", .int(Int($0.value))), ("name", .string($0.name))]) })),
            ("cases_scored", .int(r.cases.count)),
            ("errors", .array(r.caseErrors.map { .object([("case", .string($0.caseID)), ("message", .string($0.message))]) })),
            ("missing_predictions", .array(r.match.missingPredictions.map {
                .object([("case", .string($0.caseID)), ("folder", .string($0.folder))]) })),
            ("missing_ground_truth", .array(r.match.missingGroundTruth.map {
                .object([("case", .string($0.caseID)), ("folder", .string($0.folder))]) })),
            ("methods", .object(methods)),
            ("cases", .array(rows)),
        ])
        return root.render() + "\n"
    }

    static func statsJSON(_ s: MetricSummary) -> JSONValue {
        var fields: [(String, JSONValue)] = [("n", .int(s.count)), ("nan_excluded", .int(s.nanCount)),
                                             ("inf_excluded", .int(s.infCount)), ("mean", .number(s.mean)),
                                             ("std", .number(s.std)), ("median", .number(s.median))]
        for (p, v) in zip(MetricSummary.percentileLevels, s.percentiles) {
            fields.append(("p\(Int(p))", .number(v)))
        }
        return .object(fields)
    }

    static func summaryJSON(_ s: LabelSummary) -> JSONValue {
        func ranked(_ list: [RankedCase]) -> JSONValue {
            .array(list.map { .object([("case", .string($0.caseID)), ("value", .number($0.value))]) })
        }
        return .object([("label", .int(Int(s.label.value))), ("name", .string(s.label.name)),
                         ("group", s.group.map(JSONValue.string) ?? .null), ("cases", .int(s.caseCount)),
                         ("dice", statsJSON(s.dice)), ("hd95", statsJSON(s.hd95)),
                         ("worst_dice", ranked(s.worstDice)), ("worst_hd95", ranked(s.worstHD95))])
    }

    static func caseJSON(_ c: CaseResult, method: Int, label: LabelInfo, metrics m: LabelMetrics) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("case", .string(c.caseID)), ("method", .string(methodName(method))),
            ("group", c.group.map(JSONValue.string) ?? .null), ("label", .int(Int(label.value))),
            ("dice", .number(m.dice)), ("hd", .number(m.hd)), ("hd95", .number(m.hd95)),
            ("assd", .number(m.assd)), ("n_gt", .int(m.nGT)), ("n_pred", .int(m.nPred)),
            ("empty", .string(m.empty.rawValue)), ("volume_gt_mm3", .number(m.volumeGT)),
            ("volume_pred_mm3", .number(m.volumePred)), ("volume_diff_mm3", .number(m.volumeDifference)),
        ]
        if let nsd = m.surfaceDice { fields.append(("surface_dice", .number(nsd))) }
        return .object(fields)
    }

    /// Writes text to a file, creating nothing else; errors name the path.
    package static func write(_ text: String, to path: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw EvaluationError.writeFailed(path: path, reason: error.localizedDescription)
        }
    }
}
