import Yams

/// `training.augmentation:` — nnU-Net v2's training transforms, each switchable, decoded straight
/// into `AugmentationOptions` (whose initialiser holds the defaults). Flip axes are named in
/// NIfTI order (0 = x, 1 = y, 2 = z); `mirrorAxes` are tensor axes (d, h, w) = (z, y, x).
extension AugmentationOptions {
    /// `enabled`, `probability`, `range` of one random transform, plus its own extra keys.
    private static func transform(_ name: String, _ path: WritableKeyPath<AugmentationOptions, RandomTransformOptions>,
                                  _ meaning: String, extra: [Key<AugmentationOptions>] = []) -> Key<AugmentationOptions> {
        .group(name, [
            .bool("enabled", path.appending(path: \.enabled), "Switch of this transform."),
            .number("probability", path.appending(path: \.probability), .closed(0, 1), "Chance per patch."),
            .interval("range", path.appending(path: \.range), numberRange(name), meaning),
        ] + extra)
    }

    static let schema = Schema<AugmentationOptions>([
        .bool("enabled", \.enabled, "Master switch: false disables every augmentation."),
        .choice("label_interpolation", \.labelInterpolation,
                "How labels follow rotation / scaling / elastic resampling (`linear_vote`: one-hot trilinear then argmax, nnU-Net v2)."),
        .group("flip", [
            .bool("enabled", \.mirrorEnabled, "Mirroring."),
            .number("probability", \.mirrorProbabilityPerAxis, .closed(0, 1), "Chance per axis."),
            .custom("axes", type: "list of integers", allowed: "each in [0, 2]",
                    "Axes that may flip (0 = x, 1 = y, 2 = z, NIfTI order).",
                    show: { DocsText.list(niftiAxes($0.mirrorAxes), String.init) },
                    read: { r, s in
                        if let axes = r.requiredField("axes")?.ints(.closed(0, 2)) {
                            s.mirrorAxes = [axes.contains(2), axes.contains(1), axes.contains(0)]
                        }
                    },
                    write: { YAMLOut.ints(niftiAxes($0.mirrorAxes)) }),
        ]),
        transform("rotation", \.rotation, "Rotation angle in degrees, per axis."),
        transform("scaling", \.scaling, "Isotropic scale factor of the sampling grid (> 1 samples a larger region)."),
        transform("elastic", \.elastic, "Elastic deformation (off by default); range = smoothness σ as a fraction of the patch size.",
                  extra: [.interval("magnitude", \.elasticMagnitude, numberRange("elastic_magnitude"),
                                    "Maximum displacement as a fraction of half the patch size.")]),
        transform("gamma", \.gamma, "Gamma exponent, intensity statistics retained.",
                  extra: [.number("inverted_probability", \.invertedGamma.probability, .closed(0, 1),
                                  "Gamma on the inverted image (same range); 0 disables it.")]),
        transform("brightness", \.brightness, "Multiplicative brightness per channel."),
        transform("contrast", \.contrast, "Contrast about the channel mean."),
        transform("noise", \.noise, "Additive Gaussian noise σ (normalised intensities)."),
        transform("blur", \.blur, "Gaussian blur σ in voxels.",
                  extra: [.number("probability_per_channel", \.blurProbabilityPerChannel, .closed(0, 1),
                                  "Each channel is blurred with this probability when blur fires.")]),
    ], derive: [{ o in
        // Inverted gamma shares the gamma range; probability 0 (or gamma off) disables it.
        o.invertedGamma.enabled = o.gamma.enabled && o.invertedGamma.probability > 0
        o.invertedGamma.range = o.gamma.range
    }])

    /// Tensor axes (d, h, w) that may flip, as NIfTI axis numbers (x = 0 is w), ascending.
    static func niftiAxes(_ mirrorAxes: [Bool]) -> [Int] {
        (0..<3).filter { axis in mirrorAxes.count == 3 && mirrorAxes[2 - axis] }
    }
}
