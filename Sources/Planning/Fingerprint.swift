import Common
import DataPipeline
import Foundation
import NIfTI

/// What dro-plan knows about a dataset, as nnU-Net's DatasetFingerprintExtractor records it
/// (nnunetv2/experiment_planning/dataset_fingerprint/fingerprint_extractor.py): per case the
/// spacing and the shapes before and after cropping to the non-zero region, and per channel the
/// intensity statistics of a seeded sample of foreground voxels. dro-plan adds the label volumes,
/// the axis codes of each file and the time it took to read and crop each case. Shapes and
/// spacings are along the canonical (closest-RAS) axes x, y, z that training uses.
public struct DatasetFingerprint: Codable, Equatable, Sendable {
    public struct Case: Codable, Equatable, Sendable {
        public var id: String
        public var group: String?
        /// mm, x y z (canonical axes).
        public var spacing: [Double]
        public var shapeBeforeCrop: [Int]
        public var shapeAfterCrop: [Int]
        /// Voxels after / before cropping.
        public var fractionKept: Double
        /// The file's axis codes (e.g. "RAS", "LPS").
        public var orientation: String
        /// Volume of each label value 1…K−1 in mm³ (index 0 = label 1).
        public var labelVolumesMM3: [Double]
        /// Seconds to read, reorient and crop the case on this machine.
        public var loadSeconds: Double
    }

    public struct ChannelIntensities: Codable, Equatable, Sendable {
        public var name: String
        public var mean: Double
        public var std: Double
        public var median: Double
        public var min: Double
        public var max: Double
        public var percentile00_5: Double
        public var percentile99_5: Double
        /// Foreground voxels in the sample.
        public var sampled: Int
    }

    public var dataset: String
    public var channels: [String]
    public var labels: [String]
    public var cases: [Case]
    public var foregroundIntensities: [ChannelIntensities]
    /// Median over cases of voxels after / before cropping (nnU-Net's median_relative_size_after_cropping).
    public var medianRelativeSizeAfterCropping: Double
    /// Seed of the foreground sample.
    public var seed: UInt64

    public var spacings: [[Double]] { cases.map(\.spacing) }
    public var shapesAfterCrop: [[Int]] { cases.map(\.shapeAfterCrop) }

    /// nnU-Net samples 10^7 foreground voxels per channel over the dataset (split evenly over the cases).
    public static let foregroundSampleTotal = 10_000_000
    /// nnU-Net's seed for the sample.
    public static let defaultSeed: UInt64 = 1234

    /// Reads every training case of `layout` (one at a time), reports progress through `progress`.
    public static func extract(_ layout: DatasetLayout, seed: UInt64 = defaultSeed,
                               progress: (Int, Int, String) -> Void = { _, _, _ in }) throws -> DatasetFingerprint {
        guard !layout.cases.isEmpty else { throw PlanError.emptyDataset(layout.root ?? "data.cases") }
        var options = PreprocessingOptions()
        options.zScore = false
        options.cropToNonzero = true
        let perCase = max(1, foregroundSampleTotal / layout.cases.count)
        var rng = SplitMix64(seed: seed)
        var samples = [[Float]](repeating: [], count: layout.channels.count)
        var cases: [Case] = []
        for (n, files) in layout.cases.enumerated() {
            progress(n + 1, layout.cases.count, files.id)
            let start = Date()
            let raw = try CaseVolume.load(files, channels: layout.channels.count, classes: layout.classCount)
            let volume = try Preprocessor.preprocess(raw, options: options)
            let seconds = Date().timeIntervalSince(start)
            let before = volume.geometry.canonicalShape, after = volume.shape
            let spacing = volume.spacing.xyz
            var counts = [Int](repeating: 0, count: max(0, layout.classCount - 1))
            var foreground: [Int] = []
            if let label = volume.label {
                for (i, v) in label.enumerated() where v > 0 {
                    foreground.append(i)
                    if Int(v) - 1 < counts.count { counts[Int(v) - 1] += 1 }
                }
            }
            // A seeded sample with replacement, as nnU-Net's rs.choice(..., replace=True).
            let count = volume.shape.count
            if !foreground.isEmpty {
                let draws = (0..<perCase).map { _ in foreground[Int(rng.next() % UInt64(foreground.count))] }
                for c in 0..<layout.channels.count {
                    samples[c].append(contentsOf: draws.map { volume.image[c * count + $0] })
                }
            }
            let voxel = spacing.reduce(1, *)
            cases.append(Case(id: files.id, group: files.group, spacing: spacing,
                              shapeBeforeCrop: before.niftiShape, shapeAfterCrop: after.niftiShape,
                              fractionKept: Double(after.count) / Double(max(1, before.count)),
                              orientation: volume.geometry.orientation.fileAxisCodes,
                              labelVolumesMM3: counts.map { Double($0) * voxel }, loadSeconds: seconds))
        }
        let stats = zip(layout.channels, samples).map { name, values in channelStats(name: name, values) }
        return DatasetFingerprint(dataset: layout.root ?? "", channels: layout.channels,
                                  labels: layout.labels.map(\.name), cases: cases, foregroundIntensities: stats,
                                  medianRelativeSizeAfterCropping: PlanningRules.percentile(cases.map(\.fractionKept), 50),
                                  seed: seed)
    }

    /// Mean, std (population, as np.std), median, extremes and the 0.5 / 99.5 percentiles.
    static func channelStats(name: String, _ values: [Float]) -> ChannelIntensities {
        guard !values.isEmpty else {
            return ChannelIntensities(name: name, mean: .nan, std: .nan, median: .nan, min: .nan, max: .nan,
                                      percentile00_5: .nan, percentile99_5: .nan, sampled: 0)
        }
        let d = values.map(Double.init).sorted()
        let mean = d.reduce(0, +) / Double(d.count)
        let variance = d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d.count)
        return ChannelIntensities(name: name, mean: mean, std: variance.squareRoot(),
                                  median: PlanningRules.percentile(sorted: d, 50), min: d.first!, max: d.last!,
                                  percentile00_5: PlanningRules.percentile(sorted: d, 0.5),
                                  percentile99_5: PlanningRules.percentile(sorted: d, 99.5), sampled: d.count)
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }
}
