/// The readable console report.
public enum ConsoleReport {
    public static func render(_ r: EvaluationResults, worst k: Int) -> String {
        var parts: [String] = []
        let labelNames = r.labels.map { "\($0.value) \($0.name)" }.joined(separator: ", ")
        parts.append("dro-eval: \(r.cases.count) case(s) scored, labels: \(labelNames.isEmpty ? "none" : labelNames); "
            + "HD95 \(r.options.hd95Mode.rawValue); distances in mm")
        if !r.cases.isEmpty && !r.labels.isEmpty { parts.append(caseTable(r)) }
        for m in 0..<r.methods.count where !r.labels.isEmpty {
            let title = r.methods.count > 1 ? " — \(FileReports.methodName(m)) (\(r.methods[m]))" : ""
            parts.append("Robustness view\(title)\n" + summaryTable(Robustness.summaries(r, method: m, worst: k)))
            parts.append(worstTable(Robustness.summaries(r, method: m, worst: k).filter { $0.group == nil }))
        }
        if r.methods.count > 1 && !r.labels.isEmpty { parts.append(comparisonTable(r)) }
        for miss in r.match.missingPredictions { parts.append("missing prediction: case \(miss.caseID) not in \(miss.folder)") }
        for miss in r.match.missingGroundTruth { parts.append("no ground truth: case \(miss.caseID) in \(miss.folder) was not scored") }
        for e in r.caseErrors { parts.append("error: \(e.message)") }
        return parts.joined(separator: "\n\n") + "\n"
    }

    /// One row per case and method: Dice and HD95 of every label, empty flags.
    static func caseTable(_ r: EvaluationResults) -> String {
        var header = ["case"]
        if r.methods.count > 1 { header.append("method") }
        for l in r.labels { header += ["dice \(l.value)", "hd95 \(l.value)"] }
        header.append("empty")
        var rows: [[String]] = []
        for c in r.cases {
            for m in 0..<r.methods.count {
                var row = [c.caseID]
                if r.methods.count > 1 { row.append(FileReports.methodName(m)) }
                var flags: [String] = []
                for (l, label) in r.labels.enumerated() {
                    let x = c.metrics[m][l]
                    row += [TextFormat.fixed(x.dice, 4), TextFormat.fixed(x.hd95, 2)]
                    if x.empty != .none { flags.append("\(label.value):\(x.empty.rawValue)") }
                }
                row.append(flags.joined(separator: " "))
                rows.append(row)
            }
        }
        return TextFormat.table(header, rows)
    }

    static func summaryTable(_ summaries: [LabelSummary]) -> String {
        let header = ["label", "group", "metric", "n", "nan", "inf", "mean", "std", "median"] + TextFormat.percentileTitles
        var rows: [[String]] = []
        for s in summaries {
            for (name, stats, decimals) in [("dice", s.dice, 4), ("hd95", s.hd95, 2)] {
                rows.append(["\(s.label.value) \(s.label.name)", s.group ?? "all", name, "\(stats.count)",
                             "\(stats.nanCount)", "\(stats.infCount)", TextFormat.fixed(stats.mean, decimals),
                             TextFormat.fixed(stats.std, decimals), TextFormat.fixed(stats.median, decimals)]
                             + stats.percentiles.map { TextFormat.fixed($0, decimals) })
            }
        }
        return TextFormat.table(header, rows)
    }

    static func worstTable(_ summaries: [LabelSummary]) -> String {
        var rows: [[String]] = []
        for s in summaries {
            rows.append(["\(s.label.value) \(s.label.name)", "dice",
                         s.worstDice.map { "\($0.caseID) \(TextFormat.fixed($0.value, 4))" }.joined(separator: ", ")])
            rows.append(["\(s.label.value) \(s.label.name)", "hd95",
                         s.worstHD95.map { "\($0.caseID) \(TextFormat.fixed($0.value, 2))" }.joined(separator: ", ")])
        }
        return "Worst cases\n" + TextFormat.table(["label", "by", "cases (worst first)"], rows)
    }

    /// Side by side per percentile: for each label, group and metric, a row per method and a
    /// row of differences (compare − pred).
    static func comparisonTable(_ r: EvaluationResults) -> String {
        let a = Robustness.summaries(r, method: 0, worst: 0), b = Robustness.summaries(r, method: 1, worst: 0)
        let levels: [Double] = [5, 10, 25, 50, 75, 90, 95]
        func stats(_ s: MetricSummary) -> [Double] { [s.mean] + levels.map { s.value(atPercentile: $0) ?? .nan } }
        var rows: [[String]] = []
        for (sa, sb) in zip(a, b) {
            for (metric, ma, mb, decimals) in [("dice", sa.dice, sb.dice, 4), ("hd95", sa.hd95, sb.hd95, 2)] {
                let va = stats(ma), vb = stats(mb)
                let lead = ["\(sa.label.value) \(sa.label.name)", sa.group ?? "all", metric]
                rows.append(lead + ["pred"] + va.map { TextFormat.fixed($0, decimals) })
                rows.append(lead + ["compare"] + vb.map { TextFormat.fixed($0, decimals) })
                rows.append(lead + ["difference"] + zip(vb, va).map { TextFormat.fixed($0 - $1, decimals) })
            }
        }
        let header = ["label", "group", "metric", "method", "mean"] + levels.map { $0 == 50 ? "median" : "P\(Int($0))" }
        return "Comparison (pred = \(r.methods[0]), compare = \(r.methods[1]); difference = compare - pred)\n"
            + TextFormat.table(header, rows)
    }
}
