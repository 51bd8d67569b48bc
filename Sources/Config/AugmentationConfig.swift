import Yams

/// One random transform: applied with `probability`, its parameter drawn uniformly from `range`.
public struct RandomAugmentation: Equatable, Sendable {
    public var enabled: Bool
    public var probability: Double
    public var range: ClosedRange<Double>
    public init(enabled: Bool = true, probability: Double, range: ClosedRange<Double>) {
        self.enabled = enabled; self.probability = probability; self.range = range
    }
}

/// How the label map follows a rotation, scaling or elastic resample.
public enum LabelInterpolationKind: String, CaseIterable, Sendable {
    /// Label of the nearest source voxel.
    case nearest
    /// One-hot trilinear interpolation then argmax (nnU-Net v2).
    case linearVote = "linear_vote"
}

/// `training.augmentation:` — nnU-Net v2's training transforms, each switchable. Keys and
/// bounds follow the data pipeline's `AugmentationOptions`, so every accepted config is valid there.
public struct AugmentationConfig: Equatable, Sendable {
    /// Master switch: false disables every augmentation.
    public var enabled = true
    public var labelInterpolation: LabelInterpolationKind = .linearVote
    public var flip = true
    /// Flip axes in NIfTI order (0 = x, 1 = y, 2 = z), each flipped with `flipProbability`.
    public var flipAxes = [0, 1, 2]
    /// nnU-Net: 0.5 per axis.
    public var flipProbability = 0.5
    /// Degrees per axis (nnU-Net 3D: ±30°, p 0.2).
    public var rotation = RandomAugmentation(probability: 0.2, range: -30...30)
    /// Isotropic scale factor of the sampling grid (nnU-Net: 0.7–1.4, p 0.2).
    public var scaling = RandomAugmentation(probability: 0.2, range: 0.7...1.4)
    /// Elastic deformation, off in nnU-Net v2; range = smoothness σ as a fraction of the patch
    /// size (batchgeneratorsv2), p 0.2 (nnU-Net v1).
    public var elastic = RandomAugmentation(enabled: false, probability: 0.2, range: 0...0.2)
    /// Maximum displacement as a fraction of half the patch size.
    public var elasticMagnitude: ClosedRange<Double> = 0...0.2
    /// Gamma exponent with statistics retained (nnU-Net: 0.7–1.5, p 0.3).
    public var gamma = RandomAugmentation(probability: 0.3, range: 0.7...1.5)
    /// Gamma on the inverted image with the same range (nnU-Net: p 0.1); 0 disables it.
    public var invertedGammaProbability = 0.1
    /// Multiplicative brightness per channel (nnU-Net: 0.75–1.25, p 0.15).
    public var brightness = RandomAugmentation(probability: 0.15, range: 0.75...1.25)
    /// Contrast about the channel mean (nnU-Net: 0.75–1.25, p 0.15).
    public var contrast = RandomAugmentation(probability: 0.15, range: 0.75...1.25)
    /// Additive Gaussian noise variance on normalised intensities (nnU-Net: 0–0.1, p 0.1).
    public var noise = RandomAugmentation(probability: 0.1, range: 0...0.1)
    /// Gaussian blur σ in voxels (nnU-Net: 0.5–1, p 0.2, each channel with 0.5).
    public var blur = RandomAugmentation(probability: 0.2, range: 0.5...1.0)
    public var blurProbabilityPerChannel = 0.5

    public init() {}

    /// Allowed parameter ranges (the data pipeline's `AugmentationOptions.validate` bounds).
    static let bounds: [String: NumberRange] = [
        "rotation": .closed(-180, 180), "scaling": .closed(0.01, 100), "elastic": .closed(0, 1),
        "gamma": .closed(0.01, 100), "brightness": .closed(0, 100), "contrast": .closed(0, 100),
        "noise": .closed(0, 100), "blur": .closed(0, 20),
    ]

    init(_ r: SectionReader) {
        self.init()
        enabled = r.bool("enabled", true)
        labelInterpolation = r.choice("label_interpolation", .linearVote)
        let f = r.section("flip")
        flip = f.bool("enabled", true)
        flipProbability = f.double("probability", 0.5, .closed(0, 1))
        flipAxes = f.requiredField("axes")?.ints(.closed(0, 2)) ?? [0, 1, 2]
        f.finish()
        rotation = Self.read(r, "rotation", rotation)
        scaling = Self.read(r, "scaling", scaling)
        elastic = Self.read(r, "elastic", elastic) { s in
            elasticMagnitude = s.interval("magnitude", elasticMagnitude, .closed(0, 1))
        }
        gamma = Self.read(r, "gamma", gamma) { s in
            invertedGammaProbability = s.double("inverted_probability", 0.1, .closed(0, 1))
        }
        brightness = Self.read(r, "brightness", brightness)
        contrast = Self.read(r, "contrast", contrast)
        noise = Self.read(r, "noise", noise)
        blur = Self.read(r, "blur", blur) { s in
            blurProbabilityPerChannel = s.double("probability_per_channel", 0.5, .closed(0, 1))
        }
        r.finish()
    }

    private static func read(_ r: SectionReader, _ name: String, _ fallback: RandomAugmentation,
                             extra: (SectionReader) -> Void = { _ in }) -> RandomAugmentation {
        let s = r.section(name)
        var a = fallback
        a.enabled = s.bool("enabled", fallback.enabled)
        a.probability = s.double("probability", fallback.probability, .closed(0, 1))
        a.range = s.interval("range", fallback.range, bounds[name] ?? .any)
        extra(s)
        s.finish()
        return a
    }

    private static func yaml(_ a: RandomAugmentation, _ extra: [(String, Node)] = []) -> Node {
        YAMLOut.map([("enabled", YAMLOut.bool(a.enabled)), ("probability", YAMLOut.number(a.probability)),
                     ("range", YAMLOut.interval(a.range))] + extra)
    }

    var yaml: Node {
        YAMLOut.map([
            ("enabled", YAMLOut.bool(enabled)),
            ("label_interpolation", YAMLOut.string(labelInterpolation.rawValue)),
            ("flip", YAMLOut.map([("enabled", YAMLOut.bool(flip)), ("probability", YAMLOut.number(flipProbability)),
                                  ("axes", YAMLOut.ints(flipAxes))])),
            ("rotation", Self.yaml(rotation)),
            ("scaling", Self.yaml(scaling)),
            ("elastic", Self.yaml(elastic, [("magnitude", YAMLOut.interval(elasticMagnitude))])),
            ("gamma", Self.yaml(gamma, [("inverted_probability", YAMLOut.number(invertedGammaProbability))])),
            ("brightness", Self.yaml(brightness)),
            ("contrast", Self.yaml(contrast)),
            ("noise", Self.yaml(noise)),
            ("blur", Self.yaml(blur, [("probability_per_channel", YAMLOut.number(blurProbabilityPerChannel))])),
        ])
    }
}
