import Foundation

/// A self-contained HTML report (`DIR/index.html`): summary tables, inline SVG box plots per
/// label (series: all cases and each group, per method), and PNG slice overlays of the worst
/// cases embedded as data URIs.
public enum HTMLReport {
    public static func write(_ r: EvaluationResults, to dir: String, worst k: Int, image: String?) throws {
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw EvaluationError.writeFailed(path: dir, reason: error.localizedDescription)
        }
        let page = try render(r, worst: k, image: image)
        try FileReports.write(page, to: (dir as NSString).appendingPathComponent("index.html"))
    }

    static func render(_ r: EvaluationResults, worst k: Int, image: String?) throws -> String {
        var body = "<h1>dro-eval report</h1><p>\(r.cases.count) case(s) scored; HD95 "
            + "\(r.options.hd95Mode.rawValue); distances in mm</p>"
        for (m, source) in r.methods.enumerated() {
            body += "<p>\(FileReports.methodName(m)): \(esc(source))</p>"
        }
        let problems = r.caseErrors.map { "error: \($0.message)" }
            + r.match.missingPredictions.map { "missing prediction: case \($0.caseID) in \($0.folder)" }
            + r.match.missingGroundTruth.map { "no ground truth: case \($0.caseID) in \($0.folder)" }
        if !problems.isEmpty {
            body += "<ul class=\"err\">" + problems.map { "<li>\(esc($0))</li>" }.joined() + "</ul>"
        }
        for m in 0..<r.methods.count {
            body += "<h2>Robustness view — \(FileReports.methodName(m))</h2>"
            body += "<pre>\(esc(ConsoleReport.summaryTable(Robustness.summaries(r, method: m, worst: k))))</pre>"
            body += "<pre>\(esc(ConsoleReport.worstTable(Robustness.summaries(r, method: m, worst: k).filter { $0.group == nil })))</pre>"
        }
        if r.methods.count > 1 { body += "<h2>Comparison</h2><pre>\(esc(ConsoleReport.comparisonTable(r)))</pre>" }
        body += "<h2>Box plots</h2>"
        let groups = Set(r.cases.compactMap(\.group)).sorted()
        for (l, label) in r.labels.enumerated() {
            var dice: [BoxPlotSVG.Series] = [], hd95: [BoxPlotSVG.Series] = []
            for m in 0..<r.methods.count {
                let prefix = r.methods.count > 1 ? FileReports.methodName(m) + " " : ""
                for g in [String?.none] + groups.map(Optional.some) {
                    let cases = r.cases.filter { g == nil || $0.group == g }
                    let name = prefix + (g ?? "all")
                    dice.append(.init(name: name, values: cases.map { $0.metrics[m][l].dice }))
                    hd95.append(.init(name: name, values: cases.map { $0.metrics[m][l].hd95 }))
                }
            }
            body += "<div class=\"plots\">"
                + BoxPlotSVG.render(title: "\(label.value) \(label.name): Dice", series: dice, yMaxAtLeast: 1)
                + BoxPlotSVG.render(title: "\(label.value) \(label.name): HD95 (mm)", series: hd95, yMaxAtLeast: 1)
                + "</div>"
        }
        body += try overlays(r, worst: k, image: image)
        body += "<h2>Per case</h2><pre>\(esc(ConsoleReport.caseTable(r)))</pre>"
        return "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>dro-eval report</title><style>"
            + "body{font-family:sans-serif;margin:20px} pre{font-size:12px;background:#f6f6f6;padding:8px;overflow-x:auto}"
            + ".plots svg{margin:4px 16px 4px 0} .err{color:#b00} figure{display:inline-block;margin:6px}"
            + "figcaption{font-size:12px}</style></head><body>" + body + "</body></html>\n"
    }

    /// Overlays of the worst cases by Dice (primary method) for every label.
    static func overlays(_ r: EvaluationResults, worst k: Int, image: String?) throws -> String {
        guard k > 0, !r.labels.isEmpty else { return "" }
        var html = "<h2>Worst cases (green: ground truth, red: prediction, yellow: both)</h2>"
        let paths = Dictionary(r.match.cases.map { ($0.caseID, $0) }, uniquingKeysWith: { a, _ in a })
        var cache: [String: (LabelVolume, LabelVolume, IntensityVolume?)] = [:]
        for summary in Robustness.summaries(r, method: 0, worst: k) where summary.group == nil {
            html += "<h3>\(summary.label.value) \(esc(summary.label.name))</h3>"
            for ranked in summary.worstDice {
                guard let p = paths[ranked.caseID] else { continue }
                if cache[ranked.caseID] == nil {
                    let gt = try LabelVolume.read(p.gt), pred = try LabelVolume.read(p.predictions[0])
                    var intensity: IntensityVolume?
                    if let image {
                        let path = try CaseMatching.imagePath(caseID: ranked.caseID, location: image)
                        let v = try IntensityVolume.read(path)
                        if v.shape != gt.shape {
                            throw EvaluationError.imageShape(caseID: ranked.caseID, path: path, image: v.shape, gt: gt.shape)
                        }
                        intensity = v
                    }
                    cache = [ranked.caseID: (gt, pred, intensity)]  // keep one case in memory
                }
                guard let (gt, pred, intensity) = cache[ranked.caseID] else { continue }
                let z = SliceOverlay.chooseSlice(gt: gt.labels, pred: pred.labels, label: summary.label.value, shape: gt.shape)
                let png = SliceOverlay.render(gt: gt.labels, pred: pred.labels, intensity: intensity?.values,
                                              label: summary.label.value, shape: gt.shape, z: z)
                html += "<figure><img alt=\"\(esc(ranked.caseID))\" src=\"data:image/png;base64,"
                    + Data(png.encoded()).base64EncodedString() + "\"><figcaption>\(esc(ranked.caseID)): Dice "
                    + "\(TextFormat.fixed(ranked.value, 4)), slice z=\(z)</figcaption></figure>"
            }
        }
        return html
    }

    static func esc(_ s: String) -> String { TextFormat.html(s) }
}
