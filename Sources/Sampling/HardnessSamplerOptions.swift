// Options of the hardness weighted sampler (YAML `sampler.*`, mapped by the Config module).
//
// Defaults are the authors' reference values (docs/method.md §2): β = 100, L_init = 2 (an upper bound
// of Dice+CE), m = 0, importance sampling off, weights clipped to [0.1, 10], probability floor
// ε = 1e-4/N.

import Foundation

/// Clipping interval for importance weights (YAML `sampler.clip: [lower, upper]`).
public struct ClipRange: Equatable, Sendable {
    public var lower: Double
    public var upper: Double
    public init(lower: Double, upper: Double) {
        self.lower = lower
        self.upper = upper
    }
    /// From a Swift range (the Config module's `sampler.clip`).
    public init(_ range: ClosedRange<Double>) { self.init(lower: range.lowerBound, upper: range.upperBound) }
}

public struct HardnessSamplerOptions: Equatable, Sendable {
    /// Robustness β ≥ 0 (`sampler.beta`); 0 is uniform sampling (plain ERM).
    public var beta: Double
    /// History momentum m ∈ [0, 1) (`sampler.momentum`): L̃ ← m·L̃ + (1−m)·ℓ.
    public var momentum: Double
    /// L_init (`sampler.init_loss`): initial stale loss, L̃_i = L_init·(1 + 0.001·ε_i).
    public var initLoss: Double
    /// Return w = clip(exp(β(1−m)(ℓ−L̃))) from `feedBack` (`sampler.importance_sampling`).
    public var importanceSampling: Bool
    /// Importance-weight clip interval (`sampler.clip`).
    public var clip: ClipRange
    /// Floor scale f ∈ [0, 1] (`sampler.floor`): probabilities are floored at ε = f/N and
    /// renormalised, p_i = max(q_i, ε) / Σ_j max(q_j, ε); 0 turns the floor off.
    public var floor: Double

    /// β the authors use with nnU-Net.
    public static let defaultBeta = 100.0
    /// L_init the authors use (an upper bound of the Dice+CE loss).
    public static let defaultInitLoss = 2.0
    /// Importance-weight clip interval from the method description.
    public static let defaultClip = ClipRange(lower: 0.1, upper: 10)
    /// The authors' floor: ε = 1e-4 / N (their `draw_samples`: `p[p <= eps] = eps; p /= p.sum()`).
    public static let defaultFloor = 1e-4
    /// Relative tie-breaking noise on the initial history: L̃_i = L_init·(1 + 0.001·ε_i).
    public static let initNoiseScale = 1e-3
    /// Largest |loss| or |L_init| accepted: keeps β·(ℓ − c) and β(1−m)(ℓ − L̃) finite for every
    /// finite β up to 1e290, and no segmentation loss comes near it.
    public static let maxAbsLoss = 1e12

    public init(beta: Double = defaultBeta, momentum: Double = 0, initLoss: Double = defaultInitLoss,
                importanceSampling: Bool = false, clip: ClipRange = defaultClip,
                floor: Double = defaultFloor) {
        self.beta = beta
        self.momentum = momentum
        self.initLoss = initLoss
        self.importanceSampling = importanceSampling
        self.clip = clip
        self.floor = floor
    }

    /// YAML `sampler.floor: true/false` ↔ floor = 1e-4 (the authors' ε = 1e-4/N) or 0.
    public var floorEnabled: Bool {
        get { floor > 0 }
        set { floor = newValue ? Self.defaultFloor : 0 }
    }

    /// Throws `SamplerError.invalidOption` naming the first offending YAML key.
    public func validate() throws {
        func bad(_ key: String, _ value: Any, _ allowed: String) -> SamplerError {
            .invalidOption(option: "sampler.\(key)", value: "\(value)", allowed: allowed)
        }
        guard beta.isFinite, beta >= 0, beta <= 1e290 else {
            throw bad("beta", beta, "a finite number ≥ 0 (0 = uniform sampling)")
        }
        guard momentum >= 0, momentum < 1 else { throw bad("momentum", momentum, "a number in [0, 1)") }
        guard initLoss.isFinite, abs(initLoss) <= Self.maxAbsLoss else {
            throw bad("init_loss", initLoss, "a finite number with |value| ≤ \(Self.maxAbsLoss) (an upper bound of the loss, e.g. 2)")
        }
        guard clip.lower.isFinite, clip.upper.isFinite, clip.lower > 0, clip.lower <= clip.upper else {
            throw bad("clip", "[\(clip.lower), \(clip.upper)]", "[lower, upper] with 0 < lower ≤ upper, both finite")
        }
        guard floor >= 0, floor <= 1 else {
            throw bad("floor", floor, "a number in [0, 1] (probability floor ε = floor/N; 0 = off)")
        }
    }
}

/// w = clip(exp(β(1−m)(ℓ − L̃))), the method's importance weight, computed before the update.
@inline(__always)
func importanceWeight(loss: Double, stale: Double, options o: HardnessSamplerOptions) -> Double {
    let w = Foundation.exp(o.beta * (1 - o.momentum) * (loss - stale))
    return Swift.min(Swift.max(w, o.clip.lower), o.clip.upper)
}

/// L̃ ← m·L̃ + (1−m)·ℓ.
@inline(__always)
func momentumUpdate(stale: Double, loss: Double, momentum m: Double) -> Double {
    m * stale + (1 - m) * loss
}

/// Checks a fed-back (index, loss) list against N and the loss bound.
func validateFeedback(indices: [Int], losses: [Double], count: Int) throws {
    guard indices.count == losses.count else {
        throw SamplerError.lengthMismatch(indices: indices.count, losses: losses.count)
    }
    for (i, l) in zip(indices, losses) {
        guard i >= 0, i < count else { throw SamplerError.indexOutOfRange(index: i, samples: count) }
        guard l.isFinite, abs(l) <= HardnessSamplerOptions.maxAbsLoss else {
            throw SamplerError.invalidLoss(index: i, value: l,
                                           allowed: "a finite number with |loss| ≤ \(HardnessSamplerOptions.maxAbsLoss)")
        }
    }
}
