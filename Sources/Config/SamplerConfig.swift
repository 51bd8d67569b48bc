import Sampling
import Yams

/// Which distribution training cases are drawn from.
public enum SamplerKind: String, CaseIterable, Sendable {
    /// Plain ERM: every sample equally likely.
    case uniform
    /// Hardness weighted sampling: p = softmax(β·L̃) over a stale loss history (docs/method.md §1.4).
    case hardness
    /// Group-balanced oversampling: a group uniformly, then a case uniformly within it (needs
    /// groups; the oracle baseline of Group-DRO comparisons).
    case groupBalanced = "group_balanced"
}

extension ClipRange: IntervalValue {
    init(interval: ClosedRange<Double>) { self.init(interval) }
    var interval: ClosedRange<Double> { lower...upper }
}

/// `sampler:` — which sampler, and the hardness weighted sampler's options (docs/method.md §1;
/// defaults: the authors' values, §2), decoded straight into the Sampling module's
/// `HardnessSamplerOptions`, whose initialiser holds those defaults. The ranges here are what a
/// config may ask for; the sampler's own `validate()` guards its wider invariants for callers
/// that do not come through a config.
public struct SamplerConfig: Equatable, Sendable {
    public var kind: SamplerKind = .hardness
    /// What one sampler entry stands for: a training volume (the paper) or a patch cell.
    public var unit: SamplingUnit = .wholeCase
    /// β, momentum, L_init, importance sampling, clip and floor.
    public var hardness = HardnessSamplerOptions()

    public init() {}

    static let schema = Schema<SamplerConfig>([
        .choice("kind", \.kind, "`uniform` = plain ERM; `group_balanced` = a group uniformly, then a case uniformly within it (needs `data.groups`)."),
        .number("beta", \.hardness.beta, .atLeast(0), "Robustness β (0 = ERM, ∞ = worst case)."),
        .number("momentum", \.hardness.momentum, .halfOpen(0, 1), "History update L̃ ← m·L̃ + (1−m)·ℓ."),
        .number("init_loss", \.hardness.initLoss, .greaterThan(0),
                "Initial L̃ (an upper bound of Dice + CE), with 0.1 % noise to break ties."),
        .bool("importance_sampling", \.hardness.importanceSampling,
              "Weight each drawn sample's loss by exp(β(1−m)(ℓ − L̃))."),
        .interval("clip", \.hardness.clip, .greaterThan(0), allowed: "0 < low ≤ 1 ≤ high",
                  "Clip range of the importance weights."),
        .choice("unit", \.unit, "A sample is a training volume (the paper) or a (case, region) patch cell."),
        .bool("floor", \.hardness.floorEnabled, "Floor p at ε = 1e-4/N and renormalise."),
    ], rules: [{ r, s in
        let clip = s.hardness.clip
        if !(clip.lower...clip.upper).contains(1) {
            r.log.add(.outOfRange(key: r.keyPath("clip"), at: r.location("clip"),
                                  found: "[\(formatNumber(clip.lower)), \(formatNumber(clip.upper))]",
                                  allowed: "[low, high] with 0 < low ≤ 1 ≤ high (a weight of 1 must stay possible)"))
        }
    }])
}
