// `training.augmentation:` (Config's `AugmentationConfig`) → the pipeline's `AugmentationOptions`.
// Config knows no other module, so the mapping lives here.

import Config
import Foundation

extension AugmentationOptions {
    /// Maps the configuration. Keys the configuration does not have keep nnU-Net's defaults
    /// (simulated low resolution; mirror probability per axis = flip.probability). The master
    /// switch `enabled: false` turns everything off. Validates the result.
    ///
    /// Elastic: the configuration gives batchgenerators v1's α (displacement scale) and σ
    /// (smoothing, voxels); the pipeline uses batchgeneratorsv2's fractions of the patch. σ maps
    /// to scale = σ / mean patch extent. v1's field α·(G_σ * U(−1, 1)) has per-voxel standard
    /// deviation α·√(1/3)/(2√π·σ)^{3/2} (3D Gaussian filter of unit-variance/3 white noise), and
    /// its expected peak over the patch is ≈ √(2 ln N) standard deviations, N = voxels / σ³
    /// independent blobs (Gaussian extreme value); that peak is the v2 maximum displacement.
    /// An approximation: scipy's `gaussian_filter` on 64³ (12 fields each, α = 900) gives mean
    /// peaks of 7.8 voxels at σ = 9 and 3.6 at σ = 13 where this predicts 9.9 and 5.1 (within
    /// a factor 1.4). The configuration could instead carry v2's fractions directly.
    public init(config c: AugmentationConfig, patchSize: GridShape) throws {
        self.init()
        guard c.enabled else {
            self = .none
            return
        }
        mirrorEnabled = c.flip.enabled
        mirrorProbabilityPerAxis = c.flip.probability
        // Config axes are NIfTI x = 0, y = 1, z = 2; ours are d = z, h = y, w = x.
        mirrorAxes = [c.flipAxes.contains(2), c.flipAxes.contains(1), c.flipAxes.contains(0)]
        rotation.enabled = c.rotation.enabled
        rotation.probability = c.rotation.probability
        if let m = c.rotation.number("max_degrees") { rotation.range = ParameterRange(-m, m) }
        scaling.enabled = c.scaling.enabled
        scaling.probability = c.scaling.probability
        if let r = c.scaling.interval("range") { scaling.range = ParameterRange(r.lowerBound, r.upperBound) }
        elastic.enabled = c.elastic.enabled
        elastic.probability = c.elastic.probability
        if let alpha = c.elastic.interval("alpha"), let sigma = c.elastic.interval("sigma") {
            let extent = Double(patchSize.d + patchSize.h + patchSize.w) / 3
            elastic.range = ParameterRange(min(1, sigma.lowerBound / extent), min(1, sigma.upperBound / extent))
            let lo = AugmentationOptions.v1PeakDisplacement(alpha: alpha.lowerBound, sigma: sigma.upperBound, patch: patchSize)
            let hi = AugmentationOptions.v1PeakDisplacement(alpha: alpha.upperBound, sigma: sigma.lowerBound, patch: patchSize)
            elasticMagnitude = ParameterRange(min(1, lo / (extent / 2)), min(1, hi / (extent / 2)))
        }
        gamma.enabled = c.gamma.enabled
        gamma.probability = c.gamma.probability
        invertedGamma.enabled = c.gamma.enabled
        if let p = c.gamma.number("invert_probability") { invertedGamma.probability = p }
        if let r = c.gamma.interval("range") {
            gamma.range = ParameterRange(r.lowerBound, r.upperBound)
            invertedGamma.range = gamma.range
        }
        brightness.enabled = c.brightnessContrast.enabled
        contrast.enabled = c.brightnessContrast.enabled
        brightness.probability = c.brightnessContrast.probability
        contrast.probability = c.brightnessContrast.probability
        if let r = c.brightnessContrast.interval("brightness") { brightness.range = ParameterRange(r.lowerBound, r.upperBound) }
        if let r = c.brightnessContrast.interval("contrast") { contrast.range = ParameterRange(r.lowerBound, r.upperBound) }
        noise.enabled = c.noise.enabled
        noise.probability = c.noise.probability
        // nnU-Net's "noise_variance" interval, used as σ by batchgeneratorsv2 (see `noise`).
        if let r = c.noise.interval("variance") { noise.range = ParameterRange(r.lowerBound, r.upperBound) }
        blur.enabled = c.blur.enabled
        blur.probability = c.blur.probability
        if let r = c.blur.interval("sigma") { blur.range = ParameterRange(r.lowerBound, r.upperBound) }
        try validate()
    }

    /// Expected peak |displacement| (voxels) of batchgenerators v1's elastic field α·(G_σ * U(−1, 1)).
    static func v1PeakDisplacement(alpha: Double, sigma: Double, patch: GridShape) -> Double {
        guard sigma > 0 else { return 0 }
        let std = alpha * (1.0 / 3).squareRoot() / pow(2 * Double.pi.squareRoot() * sigma, 1.5)
        let blobs = max(2, Double(patch.count) / (sigma * sigma * sigma))
        return std * (2 * log(blobs)).squareRoot()
    }
}
