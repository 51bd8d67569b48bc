/// The key tables of docs/config.md, generated from the section schemas (a test keeps the
/// document equal to them). Each table sits in the document between
/// `<!-- keys: NAME -->` and `<!-- end keys -->`.
extension Config {
    public static let docsTableNames = ["data", "model", "sampler", "training", "training.augmentation",
                                        "inference", "output"]

    /// The markdown table of one section (`docsTableNames`), or nil for an unknown name.
    public static func docsTable(_ name: String) -> String? {
        let rows: [DocsRow]
        switch name {
        case "data": rows = DataConfig.schema.rows(DataConfig())
        case "model": rows = ModelConfig.schema.rows(ModelConfig())
        case "sampler": rows = SamplerConfig.schema.rows(SamplerConfig())
        case "training":
            rows = TrainingConfig.schema.rows(TrainingConfig()).filter { !$0.key.hasPrefix("augmentation.") }
        case "training.augmentation": rows = AugmentationOptions.schema.rows(AugmentationOptions())
        case "inference": rows = InferenceConfig.schema.rows(InferenceConfig())
        case "output": rows = OutputConfig.schema(defaultDir: "").rows(OutputConfig(dir: ""))
        default: return nil
        }
        return DocsRow.table(rows)
    }

    /// `document` with every generated table replaced by the schema's.
    public static func updatingDocsTables(in document: String) -> String {
        var text = document
        for name in docsTableNames {
            let open = "<!-- keys: \(name) -->\n", close = "\n<!-- end keys -->"
            guard let start = text.range(of: open),
                  let end = text.range(of: close, range: start.upperBound..<text.endIndex),
                  let table = docsTable(name) else { continue }
            text.replaceSubrange(start.upperBound..<end.lowerBound, with: table)
        }
        return text
    }
}
