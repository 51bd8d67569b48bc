import Config

extension AugmentationOptions {
    /// The data pipeline's options from the config's `training.augmentation` section.
    /// Axis order: the config names flip axes in NIfTI order (0 = x, 1 = y, 2 = z); the pipeline's
    /// `mirrorAxes` are tensor axes (d, h, w) = (z, y, x).
    public init(_ c: AugmentationConfig) {
        guard c.enabled else { self = .none; return }
        self.init()
        mirrorEnabled = c.flip
        mirrorAxes = [c.flipAxes.contains(2), c.flipAxes.contains(1), c.flipAxes.contains(0)]
        mirrorProbabilityPerAxis = c.flipProbability
        rotation = RandomTransformOptions(c.rotation)
        scaling = RandomTransformOptions(c.scaling)
        elastic = RandomTransformOptions(c.elastic)
        elasticMagnitude = ParameterRange(c.elasticMagnitude.lowerBound, c.elasticMagnitude.upperBound)
        labelInterpolation = c.labelInterpolation == .nearest ? .nearest : .linearVote
        noise = RandomTransformOptions(c.noise)
        blur = RandomTransformOptions(c.blur)
        blurProbabilityPerChannel = c.blurProbabilityPerChannel
        brightness = RandomTransformOptions(c.brightness)
        contrast = RandomTransformOptions(c.contrast)
        gamma = RandomTransformOptions(c.gamma)
        // Inverted gamma shares the gamma range; probability 0 (or gamma off) disables it.
        invertedGamma = RandomTransformOptions(enabled: c.gamma.enabled && c.invertedGammaProbability > 0,
                                               probability: c.invertedGammaProbability,
                                               range: ParameterRange(c.gamma.range.lowerBound, c.gamma.range.upperBound))
    }
}

extension RandomTransformOptions {
    init(_ a: RandomAugmentation) {
        self.init(enabled: a.enabled, probability: a.probability,
                  range: ParameterRange(a.range.lowerBound, a.range.upperBound))
    }
}
