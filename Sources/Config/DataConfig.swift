import Yams

/// How the dataset folder is organised (docs/method.md §8).
public enum DatasetLayoutKind: String, CaseIterable, Sendable {
    /// nnU-Net v2 raw or MSD, decided from dataset.json; an explicit `cases` list means `list`.
    case auto, nnunet, msd
    /// The cases listed under `data.cases`.
    case list
}

/// Where preprocessed volumes are kept during training.
/// Where preprocessed cases are kept while training: `auto` keeps them in memory while they fit
/// in half of the available memory and writes the rest to `<output>/cache`; `memory` keeps all
/// of them in memory; `disk` writes all of them to the cache folder.
public enum CacheMode: String, CaseIterable, Sendable { case auto, memory, disk }

/// Intensity normalisation per case and channel. nnU-Net uses z-score for MRI.
public enum IntensityNormalization: String, CaseIterable, Sendable { case zscore, none }

/// One class of the label map.
public struct LabelDefinition: Equatable, Sendable {
    public var name: String
    public var value: Int
    public init(name: String, value: Int) { self.name = name; self.value = value }
}

/// One case of an explicit list: an image file per channel (or one 4-D file), an optional label.
public struct CaseEntry: Equatable, Sendable {
    public var id: String
    public var images: [String]
    public var label: String?
    public var group: String?
    public init(id: String, images: [String], label: String?, group: String? = nil) {
        self.id = id; self.images = images; self.label = label; self.group = group
    }
}

/// The built-in synthetic phantom dataset (written by `dro-train --make-demo-data`).
public struct DemoConfig: Equatable, Sendable {
    public static let defaultCases = 24
    /// Share of cases with the rare anatomy: small enough that uniform sampling under-trains it.
    public static let defaultRareFraction = 0.2
    public var cases = DemoConfig.defaultCases
    public var rareFraction = DemoConfig.defaultRareFraction
    public var seed = 0
    /// Held-out test cases written to imagesTs/labelsTs (what `dro-infer` and `dro-eval` are
    /// shown on in the demo); the rare group is over-represented there so its score is readable.
    public static let defaultTestCases = 8
    public static let defaultTestRareFraction = 0.5
    public var testCases = DemoConfig.defaultTestCases
    public var testRareFraction = DemoConfig.defaultTestRareFraction
    public init() {}
}

/// `data:` — which cases to train on and what their channels and labels mean.
public struct DataConfig: Equatable, Sendable {
    /// nnU-Net's default: 5-fold cross-validation holds out one fifth.
    public static let defaultValFraction = 0.2

    /// Dataset folder (absolute after decoding); nil with an explicit `cases` list.
    public var dataset: String?
    public var layout: DatasetLayoutKind = .auto
    public var cases: [CaseEntry] = []
    /// Channel names; nil = read from dataset.json.
    public var channels: [String]?
    /// Label names and values, consecutive from background 0; nil = read from dataset.json.
    public var labels: [LabelDefinition]?
    public var valFraction = DataConfig.defaultValFraction
    /// Explicit validation case ids (replace `val_fraction`).
    public var valCases: [String]?
    public var splitSeed = 0
    /// CSV file `case,group` (absolute after decoding).
    public var groups: String?
    /// Resample to this spacing in mm (x, y, z); nil = keep each case's spacing.
    public var targetSpacing: [Double]?
    public var cache: CacheMode = .auto
    public var normalization: IntensityNormalization = .zscore
    public var demo: DemoConfig?

    public init() {}

    static let keys = ["dataset", "layout", "cases", "channels", "labels", "val_fraction", "val_cases",
                       "split_seed", "groups", "target_spacing", "cache", "normalization", "demo"]

    init(_ r: SectionReader) {
        dataset = r.optionalPath("dataset")
        layout = r.choice("layout", .auto)
        cases = Self.readCases(r)
        channels = r.field("channels")?.strings()
        if let ch = channels, ch.isEmpty || Set(ch).count != ch.count {
            r.log.add(.outOfRange(key: r.keyPath("channels"), at: r.location("channels"),
                                  found: "[\(ch.joined(separator: ", "))]", allowed: "one or more distinct names"))
        }
        labels = Self.readLabels(r)
        valFraction = r.double("val_fraction", Self.defaultValFraction, .halfOpen(0, 1))
        valCases = r.field("val_cases")?.strings()
        if r.isPresent("val_fraction") && r.isPresent("val_cases") {
            r.log.add(.inconsistent(key: r.keyPath("val_cases"), at: r.location("val_cases"),
                                    message: "give either val_cases or val_fraction, not both"))
        }
        splitSeed = r.int("split_seed", 0, .atLeast(0))
        groups = r.optionalPath("groups")
        targetSpacing = r.field("target_spacing")?.doubles(count: 3, .greaterThan(0))
        cache = r.choice("cache", .auto)
        normalization = r.choice("normalization", .zscore)
        if r.isPresent("demo") {
            let d = r.section("demo")
            var demo = DemoConfig()
            demo.cases = d.int("cases", DemoConfig.defaultCases, .atLeast(2))
            demo.rareFraction = d.double("rare_fraction", DemoConfig.defaultRareFraction, .closed(0, 1))
            demo.seed = d.int("seed", 0, .atLeast(0))
            demo.testCases = d.int("test_cases", DemoConfig.defaultTestCases, .atLeast(0))
            demo.testRareFraction = d.double("test_rare_fraction", DemoConfig.defaultTestRareFraction, .closed(0, 1))
            d.finish()
            self.demo = demo
        } else {
            _ = r.raw("demo")
        }
        checkSource(r)
        r.finish()
    }

    private func checkSource(_ r: SectionReader) {
        switch layout {
        case .list where !r.isPresent("cases"):
            r.log.add(.missingKey(key: r.keyPath("cases"), at: r.location("layout"),
                                  meaning: "layout 'list' needs the cases listed under data.cases"))
        case .nnunet, .msd:
            if dataset == nil {
                r.log.add(.missingKey(key: r.keyPath("dataset"), at: r.location("layout"),
                                      meaning: "layout '\(layout.rawValue)' needs the dataset folder"))
            }
        case .auto where dataset == nil && !r.isPresent("cases") && !r.isPresent("dataset"):
            r.log.add(.missingKey(key: r.keyPath("dataset"), at: r.location("dataset"),
                                  meaning: "the dataset folder, or an explicit list under data.cases"))
        default: break
        }
    }

    private static func readLabels(_ r: SectionReader) -> [LabelDefinition]? {
        guard let f = r.field("labels") else { return nil }
        _ = SectionReader(path: f.key, node: f.node, log: r.log)   // reports a non-mapping
        guard case .mapping(let m) = f.node else { return nil }
        var labels: [LabelDefinition] = []
        for (k, v) in m {
            let name = k.scalar?.string ?? ""
            guard let value = Field(key: "\(f.key).\(name)", node: v, log: r.log).int(.atLeast(0)) else { continue }
            labels.append(LabelDefinition(name: name, value: value))
        }
        let values = labels.map { $0.value }.sorted()
        if values.count == m.count, values != Array(0..<values.count) || values.count < 2 {
            r.log.add(.inconsistent(key: f.key, at: f.location,
                message: "values [\(values.map(String.init).joined(separator: ", "))] must be 0, 1, 2, ... without gaps or repeats (background 0, at least 2 labels)"))
        }
        return labels
    }

    private static func readCases(_ r: SectionReader) -> [CaseEntry] {
        guard let list = r.field("cases")?.elements(expected: "a list of cases {id, images, label}") else { return [] }
        var cases: [CaseEntry] = []
        for item in list {
            let c = SectionReader(path: item.key, node: item.node, log: r.log)
            let id = c.field("id")?.string()
            var images: [String]?
            if let f = c.field("images"), let raw = f.strings(single: true) {
                images = raw.map { r.log.resolvePath($0, key: f.key) }
            }
            let label = c.optionalPath("label")
            let group = c.optionalString("group")
            c.finish()
            guard case .mapping = item.node else { continue }   // reported as a wrong type
            if id == nil || images == nil {
                r.log.add(.missingKey(key: item.key + (id == nil ? ".id" : ".images"), at: item.location,
                                      meaning: "each case needs an id and its image files"))
                continue
            }
            if let id, let images { cases.append(CaseEntry(id: id, images: images, label: label, group: group)) }
        }
        let ids = cases.map { $0.id }
        for (i, id) in ids.enumerated() where ids[..<i].contains(id) {
            r.log.add(.inconsistent(key: r.keyPath("cases"), at: r.location("cases"), message: "case id '\(id)' appears twice"))
        }
        return cases
    }

    var yaml: Node {
        YAMLOut.map([
            ("dataset", YAMLOut.optional(dataset, YAMLOut.string)),
            ("layout", YAMLOut.string(layout.rawValue)),
            ("cases", YAMLOut.block(cases.map { c in
                YAMLOut.map([("id", YAMLOut.string(c.id)), ("images", YAMLOut.strings(c.images)),
                             ("label", YAMLOut.optional(c.label, YAMLOut.string)),
                             ("group", YAMLOut.optional(c.group, YAMLOut.string))])
            })),
            ("channels", YAMLOut.optional(channels, YAMLOut.strings)),
            ("labels", YAMLOut.optional(labels) { l in YAMLOut.map(l.map { ($0.name, YAMLOut.int($0.value)) }) }),
            valCases == nil ? ("val_fraction", YAMLOut.number(valFraction)) : ("val_cases", YAMLOut.optional(valCases, YAMLOut.strings)),
            ("split_seed", YAMLOut.int(splitSeed)),
            ("groups", YAMLOut.optional(groups, YAMLOut.string)),
            ("target_spacing", YAMLOut.optional(targetSpacing, YAMLOut.numbers)),
            ("cache", YAMLOut.string(cache.rawValue)),
            ("normalization", YAMLOut.string(normalization.rawValue)),
            ("demo", YAMLOut.optional(demo) { d in
                YAMLOut.map([("cases", YAMLOut.int(d.cases)), ("rare_fraction", YAMLOut.number(d.rareFraction)),
                             ("seed", YAMLOut.int(d.seed)), ("test_cases", YAMLOut.int(d.testCases)),
                             ("test_rare_fraction", YAMLOut.number(d.testRareFraction))])
            }),
        ])
    }
}
