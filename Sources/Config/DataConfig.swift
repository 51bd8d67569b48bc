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
    public var cases = 24
    /// Share of cases with the rare anatomy: small enough that uniform sampling under-trains it.
    public var rareFraction = 0.2
    public var seed = 0
    /// Held-out test cases written to imagesTs/labelsTs (what `dro-infer` and `dro-eval` are
    /// shown on in the demo); the rare group is over-represented there so its score is readable.
    public var testCases = 8
    public var testRareFraction = 0.5
    /// Voxel spacing in mm (x, y, z). The grid keeps the default 64³ × 1.2 mm field of view, so
    /// [1.2, 1.2, 4.8] gives 64 × 64 × 16 voxels (thick slices on z).
    public var spacing = DemoConfig.defaultSpacing
    public static let defaultSpacing = [1.2, 1.2, 1.2]
    public init() {}

    static let schema = Schema<DemoConfig>([
        .int("cases", \.cases, .atLeast(2), "Number of phantom cases."),
        .number("rare_fraction", \.rareFraction, .closed(0, 1), "Share of cases with the rare anatomy."),
        .int("seed", \.seed, .atLeast(0), "Seed of the phantom generator."),
        .int("test_cases", \.testCases, .atLeast(0),
             "Held-out test cases written to `imagesTs/labelsTs` (what `dro-infer`/`dro-eval` are shown on)."),
        .number("test_rare_fraction", \.testRareFraction, .closed(0, 1),
                "Share of test cases with the rare anatomy (over-represented so its score is readable)."),
        .custom("spacing", type: "3 numbers", allowed: "each in [0.3, 20] (mm)",
                "Voxel spacing in mm (x, y, z). The phantom keeps its 76.8 mm field of view, so the grid is round(76.8 / spacing) voxels per axis: `[1.2, 1.2, 4.8]` gives 64 × 64 × 16 voxels with thick slices on z (an anisotropic dataset for `model.kernel_sizes` / `model.pool_strides`).",
                show: { DocsText.list($0.spacing, DocsText.number) },
                read: { r, s in if let v = r.requiredField("spacing")?.doubles(count: 3, .closed(0.3, 20)) { s.spacing = v } },
                // Left out at its default so the resolved configs of earlier demo runs are unchanged.
                write: { $0.spacing == DemoConfig.defaultSpacing ? nil : YAMLOut.numbers($0.spacing) }),
    ])
}

/// `data:` — which cases to train on and what their channels and labels mean.
public struct DataConfig: Equatable, Sendable {
    /// Dataset folder (absolute after decoding); nil with an explicit `cases` list.
    public var dataset: String?
    public var layout: DatasetLayoutKind = .auto
    public var cases: [CaseEntry] = []
    /// Channel names; nil = read from dataset.json.
    public var channels: [String]?
    /// Label names and values, consecutive from background 0; nil = read from dataset.json.
    public var labels: [LabelDefinition]?
    /// nnU-Net's default: 5-fold cross-validation holds out one fifth.
    public var valFraction = 0.2
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

    static let schema = Schema<DataConfig>([
        .custom("dataset", type: "path", allowed: "existing folder",
                "Dataset folder (nnU-Net v2 raw or MSD). Required unless `cases` lists the files.",
                show: { _ in "—" }, read: { r, s in s.dataset = r.optionalPath("dataset") },
                write: { YAMLOut.optional($0.dataset, YAMLOut.string) }),
        .choice("layout", \.layout,
                "`auto`: `list` when `cases` is given, else decided by dataset.json (`channel_names` → nnU-Net v2; `modality`/`training` → MSD)."),
        .custom("cases", type: "list", allowed: "`{id, images, label, group}`",
                "Explicit case list: `images` one file per channel (or one 4-D file for all), `label` the label map, `group` optional.",
                show: { _ in "`[]`" }, read: { r, s in s.cases = readCases(r) },
                write: { s in
                    YAMLOut.block(s.cases.map { c in
                        YAMLOut.map([("id", YAMLOut.string(c.id)), ("images", YAMLOut.strings(c.images)),
                                     ("label", YAMLOut.optional(c.label, YAMLOut.string)),
                                     ("group", YAMLOut.optional(c.group, YAMLOut.string))])
                    })
                }),
        .custom("channels", type: "list of text", allowed: "≥ 1 distinct names",
                "Channel names. null = dataset.json's. When given, the count must match the dataset; names replace the dataset's.",
                show: { _ in "null" },
                read: { r, s in
                    s.channels = r.field("channels")?.strings()
                    if let ch = s.channels, ch.isEmpty || Set(ch).count != ch.count {
                        r.log.add(.outOfRange(key: r.keyPath("channels"), at: r.location("channels"),
                                              found: "[\(ch.joined(separator: ", "))]", allowed: "one or more distinct names"))
                    }
                },
                write: { YAMLOut.optional($0.channels, YAMLOut.strings) }),
        .custom("labels", type: "mapping name → integer", allowed: "values 0, 1, …, K−1 (background 0), K ≥ 2",
                "Classes. null = dataset.json's (required for `list`). When given, the count must match; names replace the dataset's.",
                show: { _ in "null" }, read: { r, s in s.labels = readLabels(r) },
                write: { s in YAMLOut.optional(s.labels) { l in YAMLOut.map(l.map { ($0.name, YAMLOut.int($0.value)) }) } }),
        .custom("val_fraction", type: "number", allowed: "[0, 1)",
                "Share of cases held out for validation (nnU-Net's 5-fold share), taken per group.",
                show: { DocsText.number($0.valFraction) },
                read: { r, s in if let v = r.requiredField("val_fraction")?.double(.halfOpen(0, 1)) { s.valFraction = v } },
                write: { $0.valCases == nil ? YAMLOut.number($0.valFraction) : nil }),
        .custom("val_cases", type: "list of text", allowed: "case ids in the dataset",
                "Explicit validation cases (instead of `val_fraction`).",
                show: { _ in "null" }, read: { r, s in s.valCases = r.field("val_cases")?.strings() },
                write: { s in s.valCases.map(YAMLOut.strings) }),
        .int("split_seed", \.splitSeed, .atLeast(0), "Seed of the validation split shuffle."),
        .custom("groups", type: "path", allowed: "CSV file",
                "`case,group` rows (optional header), e.g. normal / abnormal / other centre; reports are broken down by group.",
                show: { _ in "null" }, read: { r, s in s.groups = r.optionalPath("groups") },
                write: { YAMLOut.optional($0.groups, YAMLOut.string) }),
        .custom("target_spacing", type: "3 numbers", allowed: "each > 0 (mm)",
                "Resample every case to this spacing (x, y, z); null keeps each case's spacing.",
                show: { _ in "null" },
                read: { r, s in s.targetSpacing = r.field("target_spacing")?.doubles(count: 3, .greaterThan(0)) },
                write: { YAMLOut.optional($0.targetSpacing, YAMLOut.numbers) }),
        .choice("cache", \.cache,
                "Where preprocessed cases are kept during training: `auto` keeps them in memory while they fit in half of the memory available at start (/proc/meminfo) and writes the rest to `<output.dir>/cache/` (one file per case, read back when the case is drawn); `memory` keeps all in memory; `disk` writes all to the cache. dro-train states the memory and disk used before training."),
        .choice("normalization", \.normalization,
                "Intensity normalisation per case and channel (nnU-Net uses z-score for MRI)."),
        .optionalSection("demo", \.demo, DemoConfig.schema, defaults: DemoConfig(),
                         meaning: "The built-in synthetic phantom. `dro-train --config C --make-demo-data DIR` writes it to DIR with these values (`--cases`, `--rare-fraction`, `--seed`, `--test-cases`, `--test-rare-fraction` override them); training with such a config writes it to `data.dataset` on first use, when that folder does not exist yet."),
    ], rules: [{ r, s in
        if r.isPresent("val_fraction") && r.isPresent("val_cases") {
            r.log.add(.inconsistent(key: r.keyPath("val_cases"), at: r.location("val_cases"),
                                    message: "give either val_cases or val_fraction, not both"))
        }
    }, { r, s in s.checkSource(r) }])

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
}
