import Yams

/// One switchable augmentation: whether it runs, its probability per sample, and its
/// parameters as named intervals / numbers. Defaults are nnU-Net v2's training transforms.
public struct Augmentation: Equatable, Sendable {
    public var enabled: Bool
    public var probability: Double
    /// Named [low, high] parameter intervals (e.g. "range", "sigma").
    public var intervals: [String: ClosedRange<Double>]
    /// Named scalar parameters (e.g. "max_degrees", "invert_probability").
    public var numbers: [String: Double]

    public func interval(_ name: String) -> ClosedRange<Double>? { intervals[name] }
    public func number(_ name: String) -> Double? { numbers[name] }
}

/// Parameter schema of one augmentation kind: names, allowed ranges, defaults (in key order).
struct AugmentationSpec {
    let name: String
    let enabled: Bool
    let probability: Double
    let intervals: [(String, ClosedRange<Double>, NumberRange)]
    let numbers: [(String, Double, NumberRange)]

    var defaults: Augmentation {
        Augmentation(enabled: enabled, probability: probability,
                     intervals: Dictionary(uniqueKeysWithValues: intervals.map { ($0.0, $0.1) }),
                     numbers: Dictionary(uniqueKeysWithValues: numbers.map { ($0.0, $0.1) }))
    }
}

/// `training.augmentation:` — spatial and intensity augmentation, each switchable.
public struct AugmentationConfig: Equatable, Sendable {
    /// nnU-Net v2 `get_training_transforms` values (elastic off as in v2; its v1 α, σ ranges).
    static let specs: [AugmentationSpec] = [
        AugmentationSpec(name: "flip", enabled: true, probability: 0.5, intervals: [],
                         numbers: []),
        AugmentationSpec(name: "rotation", enabled: true, probability: 0.2, intervals: [],
                         numbers: [("max_degrees", 30, .closed(0, 180))]),
        AugmentationSpec(name: "scaling", enabled: true, probability: 0.2,
                         intervals: [("range", 0.7...1.4, .greaterThan(0))], numbers: []),
        AugmentationSpec(name: "elastic", enabled: false, probability: 0.2,
                         intervals: [("alpha", 0...900, .atLeast(0)), ("sigma", 9...13, .greaterThan(0))], numbers: []),
        AugmentationSpec(name: "gamma", enabled: true, probability: 0.3,
                         intervals: [("range", 0.7...1.5, .greaterThan(0))],
                         numbers: [("invert_probability", 0.1, .closed(0, 1))]),
        AugmentationSpec(name: "brightness_contrast", enabled: true, probability: 0.15,
                         intervals: [("brightness", 0.75...1.25, .greaterThan(0)),
                                     ("contrast", 0.75...1.25, .greaterThan(0))], numbers: []),
        AugmentationSpec(name: "noise", enabled: true, probability: 0.1,
                         intervals: [("variance", 0...0.1, .atLeast(0))], numbers: []),
        AugmentationSpec(name: "blur", enabled: true, probability: 0.2,
                         intervals: [("sigma", 0.5...1.0, .greaterThan(0))], numbers: []),
    ]

    /// Master switch: false disables every augmentation.
    public var enabled = true
    /// Flip axes (0 = x, 1 = y, 2 = z), each flipped with `flip.probability`.
    public var flipAxes = [0, 1, 2]
    public var flip, rotation, scaling, elastic, gamma, brightnessContrast, noise, blur: Augmentation

    public init() {
        let d = Self.specs.map { $0.defaults }
        (flip, rotation, scaling, elastic) = (d[0], d[1], d[2], d[3])
        (gamma, brightnessContrast, noise, blur) = (d[4], d[5], d[6], d[7])
    }

    private var all: [Augmentation] { [flip, rotation, scaling, elastic, gamma, brightnessContrast, noise, blur] }

    init(_ r: SectionReader) {
        self.init()
        enabled = r.bool("enabled", true)
        var read: [Augmentation] = []
        for spec in Self.specs {
            let s = r.section(spec.name)
            var a = spec.defaults
            a.enabled = s.bool("enabled", spec.enabled)
            a.probability = s.double("probability", spec.probability, .closed(0, 1))
            if spec.name == "flip" {
                flipAxes = s.field("axes")?.ints(.closed(0, 2)) ?? [0, 1, 2]
            }
            for (key, fallback, range) in spec.intervals { a.intervals[key] = s.interval(key, fallback, range) }
            for (key, fallback, range) in spec.numbers { a.numbers[key] = s.double(key, fallback, range) }
            s.finish()
            read.append(a)
        }
        (flip, rotation, scaling, elastic) = (read[0], read[1], read[2], read[3])
        (gamma, brightnessContrast, noise, blur) = (read[4], read[5], read[6], read[7])
        r.finish()
    }

    var yaml: Node {
        var pairs: [(String, Node)] = [("enabled", YAMLOut.bool(enabled))]
        for (spec, a) in zip(Self.specs, all) {
            var p: [(String, Node)] = [("enabled", YAMLOut.bool(a.enabled)), ("probability", YAMLOut.number(a.probability))]
            if spec.name == "flip" { p.append(("axes", YAMLOut.ints(flipAxes))) }
            for (key, _, _) in spec.intervals { p.append((key, YAMLOut.optional(a.intervals[key], YAMLOut.interval))) }
            for (key, _, _) in spec.numbers { p.append((key, YAMLOut.optional(a.numbers[key], YAMLOut.number))) }
            pairs.append((spec.name, YAMLOut.map(p)))
        }
        return YAMLOut.map(pairs)
    }
}
