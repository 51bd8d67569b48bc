import Foundation

/// The dry run's dataset summary as text: cases, shapes, spacings, intensity ranges, label
/// volumes and groups.
public enum DatasetSummary {
    public static func text(_ report: DatasetReport, split: DatasetSplit?) -> String {
        let layout = report.layout
        let stats = report.cases
        var lines: [String] = []
        lines.append("dataset: \(layout.root ?? "(explicit case list)") [\(layout.kind.rawValue)]")
        lines.append("cases: \(layout.cases.count) training (\(stats.count) read without problems)"
                     + (layout.testCases.isEmpty ? "" : ", \(layout.testCases.count) test images"))
        if let split { lines.append("split: \(split.training.count) training, \(split.validation.count) validation") }
        lines.append("channels: " + layout.channels.enumerated().map { "\($0.offset) \($0.element)" }.joined(separator: ", "))
        lines.append("labels: " + layout.labels.map { "\($0.value) \($0.name)" }.joined(separator: ", "))
        let groups = Dictionary(grouping: layout.cases, by: { $0.group ?? "(none)" }).mapValues { $0.count }
        if groups.count > 1 || groups["(none)"] == nil {
            lines.append("groups: " + groups.keys.sorted().map { "\($0) \(groups[$0] ?? 0)" }.joined(separator: ", "))
        }
        guard !stats.isEmpty else { return (lines + layout.notes.map { "note: \($0)" }).joined(separator: "\n") }

        lines.append("shape (x×y×z):  min \(axisStat(stats.map { $0.shape.map(Double.init) }, quantile: 0, integer: true))"
                     + "  median \(axisStat(stats.map { $0.shape.map(Double.init) }, quantile: 0.5, integer: true))"
                     + "  max \(axisStat(stats.map { $0.shape.map(Double.init) }, quantile: 1, integer: true))")
        var orientations: [String: Int] = [:]
        for c in stats { orientations[c.orientation, default: 0] += 1 }
        lines.append("orientations: " + orientations.keys.sorted().map { "\($0) \(orientations[$0] ?? 0)" }
            .joined(separator: ", ") + (orientations.count > 1 || orientations["RAS"] == nil
                ? " (training brings every case to the closest-RAS grid; predictions are written as stored)" : ""))
        lines.append("spacing (mm):   min \(axisStat(stats.map { $0.spacing }, quantile: 0))"
                     + "  median \(axisStat(stats.map { $0.spacing }, quantile: 0.5))"
                     + "  max \(axisStat(stats.map { $0.spacing }, quantile: 1))")
        for (c, name) in layout.channels.enumerated() {
            let lows = stats.compactMap { c < $0.intensityRange.count ? Double($0.intensityRange[c].lowerBound) : nil }
            let highs = stats.compactMap { c < $0.intensityRange.count ? Double($0.intensityRange[c].upperBound) : nil }
            if let lo = lows.min(), let hi = highs.max() {
                lines.append("intensity \(name): \(short(lo)) … \(short(hi)) (per-case maximum: median \(short(quantile(highs, 0.5))))")
            }
        }
        let labelled = stats.filter { !$0.labelVoxels.isEmpty }
        if !labelled.isEmpty {
            lines.append("label volumes (mL, over \(labelled.count) labelled cases):")
            let nameWidth = layout.labels.map { $0.name.count }.max() ?? 0
            for l in layout.labels {
                let volumes = labelled.map { Double($0.labelVoxels[l.value]) * $0.voxelVolume / mm3PerML }
                let present = volumes.filter { $0 > 0 }.count
                let name = l.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                lines.append("  \(l.value) \(name)  min \(short(volumes.min() ?? 0))  median \(short(quantile(volumes, 0.5)))"
                             + "  max \(short(volumes.max() ?? 0))  present in \(present)/\(labelled.count)")
            }
        }
        lines += layout.notes.map { "note: \($0)" }
        return lines.joined(separator: "\n")
    }

    /// 1 mL = 1000 mm³.
    static let mm3PerML = 1000.0

    /// Per-axis quantile of a list of 3-vectors, as "a×b×c".
    static func axisStat(_ rows: [[Double]], quantile q: Double, integer: Bool = false) -> String {
        (0..<3).map { axis in
            let v = quantile(rows.map { $0[axis] }, q)
            return integer ? String(Int(v.rounded())) : short(v)
        }.joined(separator: "×")
    }

    /// Linear-interpolation quantile (q in [0, 1]); 0 for an empty list.
    static func quantile(_ values: [Double], _ q: Double) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        let position = q * Double(s.count - 1)
        let i = Int(position.rounded(.down)), j = min(i + 1, s.count - 1)
        return s[i] + (s[j] - s[i]) * (position - Double(i))
    }

    /// Four significant digits.
    static func short(_ v: Double) -> String { String(format: "%.4g", v) }
}
