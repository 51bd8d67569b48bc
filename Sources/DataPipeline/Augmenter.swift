// Draws augmentation parameters from the one generator passed in and applies them in
// nnU-Net's order: spatial (one resample from the case), noise, blur, brightness, contrast,
// low resolution, inverted gamma, gamma, mirroring.

import Config
import Foundation

public struct Augmenter: Sendable {
    public let options: AugmentationOptions
    public let patchSize: GridShape

    /// `options.effective` is applied: all of `options`, or nothing when its master switch is off.
    public init(options: AugmentationOptions, patchSize: GridShape) throws {
        try options.validate()
        guard !patchSize.isEmpty else {
            throw DataError.invalidOption(key: "patch_size", value: "\(patchSize)", allowed: "all extents ≥ 1")
        }
        self.options = options.effective
        self.patchSize = patchSize
    }

    /// Draws rotation / scaling / elastic parameters (identity when none fires).
    public func drawSpatial(using rng: inout some RandomNumberGenerator) -> SpatialTransform {
        let o = options
        var angles = [0.0, 0.0, 0.0], scale = [1.0, 1.0, 1.0]
        if o.rotation.enabled && rng.chance(o.rotation.probability) {
            angles = (0..<3).map { _ in rng.uniform(o.rotation.range.lower, o.rotation.range.upper) * .pi / 180 }
        }
        if o.scaling.enabled && rng.chance(o.scaling.probability) {
            scale = [Double](repeating: rng.uniform(o.scaling.range.lower, o.scaling.range.upper), count: 3)
        }
        var field: DisplacementField? = nil
        if o.elastic.enabled && rng.chance(o.elastic.probability) {
            let sigma = (0..<3).map { rng.uniform(o.elastic.range.lower, o.elastic.range.upper) * Double(patchSize[$0]) }
            let magnitude = (0..<3).map {
                rng.uniform(o.elasticMagnitude.lower, o.elasticMagnitude.upper) * Double(patchSize[$0]) / 2
            }
            field = DisplacementField(size: patchSize, sigma: sigma, magnitude: magnitude, using: &rng)
        }
        if angles == [0, 0, 0] && scale == [1, 1, 1] && field == nil { return .identity }
        return SpatialTransform(angles: angles, scale: scale, displacement: field)
    }

    /// Augmented patch of case `c` at `origin` (from `PatchSampler`).
    public func makePatch(from c: CaseVolume, origin: GridPoint,
                          using rng: inout some RandomNumberGenerator) -> Patch {
        let spatial = drawSpatial(using: &rng)
        var patch = spatial.apply(to: c, origin: origin, size: patchSize, labelMode: options.labelInterpolation)
        applyIntensity(to: &patch, using: &rng)
        applyMirror(to: &patch, using: &rng)
        return patch
    }

    /// Noise, blur, brightness, contrast, low resolution, inverted gamma and gamma, each with its
    /// probability.
    public func applyIntensity(to p: inout Patch, using rng: inout some RandomNumberGenerator) {
        let o = options, n = p.size.count
        func channel(_ c: Int, _ body: (inout ArraySlice<Float>) -> Void) {
            var slice = p.image[(c * n)..<((c + 1) * n)]
            body(&slice)
            p.image.replaceSubrange((c * n)..<((c + 1) * n), with: slice)
        }
        if o.noise.enabled && rng.chance(o.noise.probability) {
            let sigma = Float(rng.uniform(o.noise.range.lower, o.noise.range.upper))
            var noise = [Float](repeating: 0, count: n)
            rng.fillNormal(&noise, sigma: sigma)
            for c in 0..<p.channels { for i in 0..<n { p.image[c * n + i] += noise[i] } }
        }
        if o.blur.enabled && rng.chance(o.blur.probability) {
            for c in 0..<p.channels where rng.chance(o.blurProbabilityPerChannel) {
                let sigma = (0..<3).map { _ in rng.uniform(o.blur.range.lower, o.blur.range.upper) }
                channel(c) { IntensityTransforms.blur(&$0, shape: p.size, sigma: sigma) }
            }
        }
        if o.brightness.enabled && rng.chance(o.brightness.probability) {
            for c in 0..<p.channels {
                let f = Float(rng.bgContrastFactor(o.brightness.range.lower, o.brightness.range.upper))
                channel(c) { IntensityTransforms.multiply(&$0, by: f) }
            }
        }
        if o.contrast.enabled && rng.chance(o.contrast.probability) {
            for c in 0..<p.channels {
                let f = Float(rng.bgContrastFactor(o.contrast.range.lower, o.contrast.range.upper))
                channel(c) { IntensityTransforms.contrast(&$0, factor: f) }
            }
        }
        if o.lowResolution.enabled && rng.chance(o.lowResolution.probability) {
            for c in 0..<p.channels where rng.chance(o.lowResolutionProbabilityPerChannel) {
                let zoom = rng.uniform(o.lowResolution.range.lower, o.lowResolution.range.upper)
                channel(c) { IntensityTransforms.simulateLowResolution(&$0, shape: p.size, zoom: zoom) }
            }
        }
        for (t, invert) in [(o.invertedGamma, true), (o.gamma, false)] where t.enabled && rng.chance(t.probability) {
            for c in 0..<p.channels {
                let g = Float(rng.bgContrastFactor(t.range.lower, t.range.upper))
                channel(c) { IntensityTransforms.gamma(&$0, gamma: g, invert: invert) }
            }
        }
    }

    /// Flips each enabled axis with its probability (image channels and label together).
    public func applyMirror(to p: inout Patch, using rng: inout some RandomNumberGenerator) {
        guard options.mirrorEnabled else { return }
        for axis in 0..<3 where options.mirrorAxes[axis] && rng.chance(options.mirrorProbabilityPerAxis) {
            Augmenter.flip(&p, axis: axis)
        }
    }

    /// Flips a patch along one axis.
    public static func flip(_ p: inout Patch, axis: Int) {
        let n = p.size.count
        for c in 0..<p.channels {
            var slice = p.image[(c * n)..<((c + 1) * n)]
            IntensityTransforms.flip(&slice, shape: p.size, axis: axis)
            p.image.replaceSubrange((c * n)..<((c + 1) * n), with: slice)
        }
        if var l = p.label?[...] {
            IntensityTransforms.flip(&l, shape: p.size, axis: axis)
            p.label = Array(l)
        }
    }
}
