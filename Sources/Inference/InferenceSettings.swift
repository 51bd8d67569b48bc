/// How `dro-infer` segments: sliding window, test-time augmentation, outputs, post-processing.
import Model

public struct InferenceSettings: Equatable, Sendable {
    /// Fraction of a window shared with its neighbours (nnU-Net: 0.5).
    public var overlap = SlidingWindow.defaultOverlap
    /// Gaussian σ as a fraction of the patch (nnU-Net: 1/8).
    public var sigmaScale = SlidingWindow.defaultSigmaScale
    /// Windows per forward pass.
    public var batch = 1
    /// Average the logits over the 8 mirrorings of each window.
    public var tta = false
    /// Also return (and write) the per-class probabilities.
    public var probabilities = false
    /// Keep only the largest connected component of each label.
    public var largestComponent: Connectivity? = nil

    public init() {}

    /// Usage errors (exit 64), naming the option.
    public func validate() throws {
        guard overlap >= 0, overlap < 1 else {
            throw InferenceError.usage(option: "--overlap", found: "\(overlap)", allowed: "a fraction in [0, 1)")
        }
        guard sigmaScale > 0, sigmaScale.isFinite else {
            throw InferenceError.usage(option: "--sigma-scale", found: "\(sigmaScale)", allowed: "a number > 0")
        }
        guard batch >= 1 else { throw InferenceError.usage(option: "--batch", found: "\(batch)", allowed: "an integer ≥ 1") }
    }
}
