import Config

/// Learning-rate schedule and gradient clipping: pure functions of their inputs.
public enum Schedule {
    /// nnU-Net's "poly" decay exponent: lr = lr₀·(1 − e/E)^0.9, updated once per epoch
    /// (nnU-Net v2's PolyLRScheduler, stepped at each epoch start); `training.poly_exponent`'s default.
    public static let defaultPolyExponent = Float(TrainingConfig().polyExponent)
    /// Added to the norm before dividing, as torch.nn.utils.clip_grad_norm_ does, so a zero
    /// gradient never divides by zero.
    public static let clipEpsilon: Float = 1e-6

    /// Learning rate during 0-based epoch `epoch` of `epochs`: lr₀·(1 − e/E)^exponent.
    public static func polyLearningRate(base: Float, epoch: Int, epochs: Int,
                                        exponent: Float = defaultPolyExponent) -> Float {
        guard epochs > 0 else { return base }
        let remaining = max(0, 1 - Double(epoch) / Double(epochs))
        return Float(Double(base) * Foundation.pow(remaining, Double(exponent)))
    }

    /// Factor to multiply the gradient by so its norm is at most `maxNorm` (PyTorch's
    /// clip_grad_norm_: maxNorm / (norm + 1e-6) when that is below 1, else 1).
    public static func clipFactor(norm: Float, maxNorm: Float?) -> Float {
        guard let maxNorm, norm.isFinite else { return 1 }
        let factor = maxNorm / (norm + clipEpsilon)
        return factor < 1 ? factor : 1
    }
}

import Foundation
