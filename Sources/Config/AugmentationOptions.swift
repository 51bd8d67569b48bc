// Augmentation settings, defaults = nnU-Net v2 (`nnUNetTrainer.get_training_transforms` with
// batchgeneratorsv2's `SpatialTransform`, read from MIC-DKFZ/nnUNet and batchgeneratorsv2).
// Every transform is switchable (`enabled`) and fires with `probability` per patch. The config's
// `training.augmentation` section decodes straight into this struct (AugmentationSchema.swift);
// the data pipeline's `Augmenter` applies it.

/// Closed interval [lower, upper] of a random parameter.
public struct ParameterRange: Codable, Equatable, Sendable, CustomStringConvertible, IntervalValue {
    public var lower: Double
    public var upper: Double
    public init(_ lower: Double, _ upper: Double) { self.lower = lower; self.upper = upper }
    public var description: String { "[\(lower), \(upper)]" }
    init(interval: ClosedRange<Double>) { self.init(interval.lowerBound, interval.upperBound) }
    var interval: ClosedRange<Double> { lower...upper }
}

/// One random transform: applied to a patch with `probability`, parameter drawn from `range`.
public struct RandomTransformOptions: Codable, Equatable, Sendable {
    public var enabled: Bool
    public var probability: Double
    public var range: ParameterRange
    public init(enabled: Bool = true, probability: Double, range: ParameterRange) {
        self.enabled = enabled; self.probability = probability; self.range = range
    }
}

/// How the label map follows a rotation / scaling / elastic resample.
public enum LabelInterpolation: String, Codable, CaseIterable, Sendable {
    /// Label of the nearest source voxel.
    case nearest
    /// One-hot trilinear interpolation then argmax (nnU-Net v2's default, `mode_seg='bilinear'`):
    /// the class with the largest summed trilinear weight among the 8 neighbours; ties go to the
    /// smaller label (argmax's first index). Never produces a label absent from the neighbours.
    case linearVote = "linear_vote"
}

public struct AugmentationOptions: Codable, Equatable, Sendable {
    /// Master switch (`training.augmentation.enabled`): false disables every transform, the
    /// others keeping their settings (`effective` is then `.none`).
    public var enabled = true
    /// Mirroring: each enabled axis (d, h, w) flipped with `probabilityPerAxis`
    /// (batchgeneratorsv2 `MirrorTransform`: 0.5 per axis, all three axes in 3D).
    public var mirrorEnabled = true
    public var mirrorAxes: [Bool] = [true, true, true]
    public var mirrorProbabilityPerAxis = 0.5
    /// Rotation: one angle per axis, uniform in `range` degrees (nnU-Net 3D: ±30°, p = 0.2).
    public var rotation = RandomTransformOptions(probability: 0.2, range: ParameterRange(-30, 30))
    /// Isotropic scaling of the sampling grid; > 1 samples a larger region, so objects shrink
    /// (nnU-Net: (0.7, 1.4), p = 0.2, same factor on all axes).
    public var scaling = RandomTransformOptions(probability: 0.2, range: ParameterRange(0.7, 1.4))
    /// Elastic deformation, off in nnU-Net v2 (`p_elastic_deform = 0`); when enabled,
    /// batchgeneratorsv2's ranges: smoothness σ = `range` × patch size (voxels, per axis) and
    /// maximum displacement = `elasticMagnitude` × patch size / 2 voxels (per axis). The
    /// probability 0.2 is nnU-Net v1's `p_eldef`.
    public var elastic = RandomTransformOptions(enabled: false, probability: 0.2, range: ParameterRange(0, 0.2))
    public var elasticMagnitude = ParameterRange(0, 0.2)
    public var labelInterpolation = LabelInterpolation.linearVote
    /// Additive Gaussian noise, standard deviation σ uniform in `range` (z-scored units), one
    /// noise field added to every channel (nnU-Net: `noise_variance = (0, 0.1)`, p = 0.1,
    /// synchronised channels; batchgeneratorsv2 passes the drawn value to
    /// `np.random.normal(0, value)`, i.e. uses it as σ, and so do we).
    public var noise = RandomTransformOptions(probability: 0.1, range: ParameterRange(0, 0.1))
    /// Gaussian blur, σ per axis uniform in `range` voxels, each channel with
    /// `blurProbabilityPerChannel` (nnU-Net: (0.5, 1), p = 0.2, 0.5 per channel).
    public var blur = RandomTransformOptions(probability: 0.2, range: ParameterRange(0.5, 1.0))
    public var blurProbabilityPerChannel = 0.5
    /// Multiplicative brightness per channel (nnU-Net: BGContrast (0.75, 1.25), p = 0.15).
    public var brightness = RandomTransformOptions(probability: 0.15, range: ParameterRange(0.75, 1.25))
    /// Contrast about the channel mean, range preserved (nnU-Net: BGContrast (0.75, 1.25), p = 0.15).
    public var contrast = RandomTransformOptions(probability: 0.15, range: ParameterRange(0.75, 1.25))
    /// Simulated low resolution: the channel is downsampled by a factor drawn in `range` (same on
    /// all axes) with nearest neighbour and upsampled back with trilinear interpolation; each
    /// channel with `lowResolutionProbabilityPerChannel` (nnU-Net: (0.5, 1), p = 0.25, 0.5 per
    /// channel; batchgeneratorsv2's `SimulateLowResolutionTransform`). Not a config key.
    public var lowResolution = RandomTransformOptions(probability: 0.25, range: ParameterRange(0.5, 1))
    public var lowResolutionProbabilityPerChannel = 0.5
    /// Gamma with statistics retained (nnU-Net: BGContrast (0.7, 1.5), p = 0.3) ...
    public var gamma = RandomTransformOptions(probability: 0.3, range: ParameterRange(0.7, 1.5))
    /// ... and on the inverted image (nnU-Net: same range, p = 0.1). From a config it shares
    /// gamma's range and switch (`gamma.inverted_probability`, 0 disables it).
    public var invertedGamma = RandomTransformOptions(probability: 0.1, range: ParameterRange(0.7, 1.5))

    /// nnU-Net v2's defaults (above).
    public init() {}

    /// Everything off: patches are exact crops.
    public static var none: AugmentationOptions {
        var o = AugmentationOptions()
        o.mirrorEnabled = false
        for k in [\AugmentationOptions.rotation, \.scaling, \.elastic, \.noise, \.blur, \.brightness,
                  \.contrast, \.lowResolution, \.gamma, \.invertedGamma] { o[keyPath: k].enabled = false }
        return o
    }

    /// What is applied: these options, or `.none` when the master switch is off.
    public var effective: AugmentationOptions { enabled ? self : .none }

    /// Allowed parameter ranges, one per transform (YAML names): the config reader's bounds
    /// and `validate()`'s.
    static let bounds: [String: (range: ClosedRange<Double>, what: String)] = [
        "rotation": (-180...180, "degrees"),
        "scaling": (0.01...100, "factor > 0"),
        "elastic": (0...1, "fraction of the patch size"),
        "elastic_magnitude": (0...1, "fraction of the patch size"),
        "noise": (0...100, "standard deviation ≥ 0"),
        "blur": (0...20, "σ in voxels"),
        "brightness": (0...100, "factor ≥ 0"),
        "contrast": (0...100, "factor ≥ 0"),
        "low_resolution": (0.01...1, "zoom factor in (0, 1]"),
        "gamma": (0.01...100, "exponent > 0"),
        "inverted_gamma": (0.01...100, "exponent > 0"),
    ]

    /// The bounds of `key` as a config range.
    static func numberRange(_ key: String) -> NumberRange {
        bounds[key].map { NumberRange.closed($0.range.lowerBound, $0.range.upperBound) } ?? .any
    }

    /// Throws `OptionError` naming the first offending key (YAML names), for options built in
    /// code; a decoded config has passed the same bounds already.
    public func validate() throws {
        func prob(_ key: String, _ p: Double) throws {
            guard p >= 0, p <= 1 else {
                throw OptionError(key: "augmentation.\(key)", value: "\(p)", allowed: "a probability in [0, 1]")
            }
        }
        func check(_ key: String, _ t: RandomTransformOptions) throws {
            try prob("\(key).probability", t.probability)
            try range(key, t.range, suffix: ".range")
        }
        func range(_ key: String, _ r: ParameterRange, suffix: String = "") throws {
            let (bound, what) = Self.bounds[key]!
            guard r.lower.isFinite, r.upper.isFinite, r.lower <= r.upper, bound.contains(r.lower), bound.contains(r.upper) else {
                throw OptionError(key: "augmentation.\(key)\(suffix)", value: "\(r)",
                                  allowed: "lower ≤ upper, both in [\(bound.lowerBound), \(bound.upperBound)] (\(what))")
            }
        }
        guard mirrorAxes.count == 3 else {
            throw OptionError(key: "augmentation.mirror_axes", value: "\(mirrorAxes)", allowed: "3 booleans for axes d, h, w")
        }
        try prob("mirror_probability_per_axis", mirrorProbabilityPerAxis)
        try check("rotation", rotation)
        try check("scaling", scaling)
        try check("elastic", elastic)
        try range("elastic_magnitude", elasticMagnitude)
        try check("noise", noise)
        try check("blur", blur)
        try prob("blur_probability_per_channel", blurProbabilityPerChannel)
        try check("brightness", brightness)
        try check("contrast", contrast)
        try check("low_resolution", lowResolution)
        try prob("low_resolution_probability_per_channel", lowResolutionProbabilityPerChannel)
        try check("gamma", gamma)
        try check("inverted_gamma", invertedGamma)
    }
}

/// An option struct built in code with a value outside what is allowed (the config reader
/// reports the same bounds with file and line).
public struct OptionError: Error, Equatable, CustomStringConvertible {
    public let key: String
    public let value: String
    public let allowed: String
    public var description: String { "\(key) = \(value) is invalid; allowed: \(allowed)" }
}
