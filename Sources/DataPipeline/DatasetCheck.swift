import Foundation
import NIfTI

/// What one case contributes to the dataset summary.
public struct CaseStatistics: Equatable, Sendable {
    public var id: String
    public var group: String?
    public var shape: [Int]
    public var spacing: [Double]
    /// Axis codes of the stored grid ("RAS", "LPS", ...), from its affine.
    public var orientation: String = "RAS"
    /// Finite intensity range per channel.
    public var intensityRange: [ClosedRange<Float>]
    /// Voxels per label value (index = value); empty when the case has no readable label.
    public var labelVoxels: [Int]

    /// Voxel volume in mm³.
    public var voxelVolume: Double { spacing.reduce(1, *) }
}

/// The result of checking a whole dataset: every problem, and statistics of the cases that read.
public struct DatasetReport: Sendable {
    public var layout: DatasetLayout
    public var problems: [DatasetProblem]
    public var cases: [CaseStatistics]
}

/// The dry run's integrity check: reads every case (images and labels) through `CaseLoader`
/// and reports every problem of every case in one pass.
public enum DatasetCheck {
    /// `progress` is told each case id before it is read (for long datasets).
    public static func run(_ layout: DatasetLayout, discoveryProblems: [DatasetProblem] = [],
                           progress: (String) -> Void = { _ in }) -> DatasetReport {
        var problems = discoveryProblems
        var statistics: [CaseStatistics] = []
        for files in layout.cases {
            progress(files.id)
            let (loaded, caseProblems) = CaseLoader.read(files, channels: layout.channels.count,
                                                         classes: layout.classCount)
            problems += caseProblems
            if let loaded { statistics.append(summarize(loaded, classes: layout.classCount)) }
        }
        return DatasetReport(layout: layout, problems: problems, cases: statistics)
    }

    static func summarize(_ c: LoadedCase, classes: Int) -> CaseStatistics {
        let n = c.voxelCount
        let ranges: [ClosedRange<Float>] = (0..<c.channels).map { ch in
            var lo = Float.infinity, hi = -Float.infinity
            for v in c.image[(ch * n)..<((ch + 1) * n)] where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
            return lo <= hi ? lo...hi : 0...0
        }
        var counts = [Int](repeating: 0, count: c.label == nil ? 0 : classes)
        for v in c.label ?? [] { counts[Int(v)] += 1 }
        return CaseStatistics(id: c.id, group: c.group, shape: c.shape, spacing: c.spacing,
                              orientation: AxisOrientation.closestRAS(c.affine).fileAxisCodes,
                              intensityRange: ranges, labelVoxels: counts)
    }
}
