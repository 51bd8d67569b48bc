import Yams

/// Which distribution training cases are drawn from.
public enum SamplerKind: String, CaseIterable, Sendable {
    /// Plain ERM: every sample equally likely.
    case uniform
    /// Hardness weighted sampling: p = softmax(β·L̃) over a stale loss history (docs/method.md §1.4).
    case hardness
}

/// What one sampler entry stands for.
public enum SampleUnit: String, CaseIterable, Sendable {
    /// A training volume; each draw then takes a random patch of it (the paper).
    case `case`
    /// A (case, region) patch cell.
    case patch
}

/// `sampler:` — the hardness weighted sampler (docs/method.md §1; defaults: the authors' values, §2).
public struct SamplerConfig: Equatable, Sendable {
    /// Robustness parameter β used by the authors.
    public static let defaultBeta = 100.0
    /// Initial loss: an upper bound of Dice+CE (the authors use 2.0).
    public static let defaultInitLoss = 2.0
    /// Importance weight clip range of the authors' implementation.
    public static let defaultClip: ClosedRange<Double> = 0.1...10

    public var kind: SamplerKind = .hardness
    public var beta = SamplerConfig.defaultBeta
    /// History momentum m: L̃ ← m·L̃ + (1−m)·ℓ. The authors use 0.
    public var momentum = 0.0
    public var initLoss = SamplerConfig.defaultInitLoss
    public var importanceSampling = false
    public var clip = SamplerConfig.defaultClip
    public var unit: SampleUnit = .case
    /// Floor p at ε = 1e-4/N and renormalise (the authors' safeguard).
    public var floor = true

    public init() {}

    init(_ r: SectionReader) {
        kind = r.choice("kind", .hardness)
        beta = r.double("beta", Self.defaultBeta, .atLeast(0))
        momentum = r.double("momentum", 0, .halfOpen(0, 1))
        initLoss = r.double("init_loss", Self.defaultInitLoss, .greaterThan(0))
        importanceSampling = r.bool("importance_sampling", false)
        clip = r.interval("clip", Self.defaultClip, .greaterThan(0))
        if !clip.contains(1) {
            r.log.add(.outOfRange(key: r.keyPath("clip"), at: r.location("clip"),
                                  found: "[\(formatNumber(clip.lowerBound)), \(formatNumber(clip.upperBound))]",
                                  allowed: "[low, high] with 0 < low ≤ 1 ≤ high (a weight of 1 must stay possible)"))
        }
        unit = r.choice("unit", .case)
        floor = r.bool("floor", true)
        r.finish()
    }

    var yaml: Node {
        YAMLOut.map([
            ("kind", YAMLOut.string(kind.rawValue)),
            ("beta", YAMLOut.number(beta)),
            ("momentum", YAMLOut.number(momentum)),
            ("init_loss", YAMLOut.number(initLoss)),
            ("importance_sampling", YAMLOut.bool(importanceSampling)),
            ("clip", YAMLOut.interval(clip)),
            ("unit", YAMLOut.string(unit.rawValue)),
            ("floor", YAMLOut.bool(floor)),
        ])
    }
}
