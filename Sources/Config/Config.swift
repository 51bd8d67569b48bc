import Foundation
import Yams

/// The whole configuration of a run, decoded once from YAML and validated: every later stage
/// reads these typed values, never the YAML. See docs/config.md for every key.
public struct Config: Equatable, Sendable {
    public var data: DataConfig
    public var model: ModelConfig
    public var sampler: SamplerConfig
    public var training: TrainingConfig
    public var inference: InferenceConfig
    public var output: OutputConfig

    static let sections = ["data", "model", "sampler", "training", "inference", "output"]

    /// Reads, overrides and validates a config file. Relative paths in the file resolve against
    /// its folder; relative paths given with `--set` against the working directory.
    public static func load(path: String, overrides: [String] = []) throws -> Config {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError.unreadable(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw ConfigError.unreadable(path: path, reason: "it is a folder") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError.unreadable(path: path, reason: "permission denied or read error")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError.unreadable(path: path, reason: "not UTF-8 text")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try decode(yaml: text, sourceName: path, baseDirectory: folder, overrides: overrides)
    }

    /// Decodes YAML text. `sourceName` names the file in messages (its stem names the default
    /// output folder); `baseDirectory` is where relative paths resolve.
    public static func decode(yaml: String, sourceName: String, baseDirectory: String,
                              overrides: [String] = [],
                              overrideBaseDirectory: String = FileManager.default.currentDirectoryPath) throws -> Config {
        var root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError.yamlSyntax(path: sourceName, message: "\(error)".replacingOccurrences(of: "\n", with: " "))
        }
        var origins: [String: String] = [:]
        for text in overrides {
            let o = try ConfigOverride(text)
            root = try o.apply(to: root)
            origins[o.key] = o.text
        }
        let log = ProblemLog(sourceName: sourceName, baseDirectory: baseDirectory,
                             overrideBaseDirectory: overrideBaseDirectory, overrides: origins)
        let config = Config(SectionReader(path: "", node: root, log: log), sourceName: sourceName)
        let problems = sortedByLine(log.problems, overrides: overrides)
        if problems.count == 1 { throw problems[0] }
        if !problems.isEmpty { throw ConfigError.multiple(problems) }
        return config
    }

    /// Defaults for every key; `data` must still name a dataset (set `data.dataset`).
    public init(outputDir: String) {
        data = DataConfig(); model = ModelConfig(); sampler = SamplerConfig()
        training = TrainingConfig(); inference = InferenceConfig(); output = OutputConfig(dir: outputDir)
    }

    private init(_ r: SectionReader, sourceName: String) {
        let stem = URL(fileURLWithPath: sourceName).deletingPathExtension().lastPathComponent
        data = DataConfig.schema.read(r.section("data"), defaults: DataConfig())
        model = ModelConfig.schema.read(r.section("model"), defaults: ModelConfig())
        sampler = SamplerConfig.schema.read(r.section("sampler"), defaults: SamplerConfig())
        training = TrainingConfig.schema.read(r.section("training"), defaults: TrainingConfig())
        inference = InferenceConfig.schema.read(r.section("inference"), defaults: InferenceConfig())
        output = OutputConfig.schema(defaultDir: Self.defaultOutputDir(stem: stem))
            .read(r.section("output"), defaults: OutputConfig(dir: ""))
        for rule in Self.rules { rule(r, self) }
        r.finish()
    }

    /// `runs/<config name>`, relative to the config file's folder.
    static func defaultOutputDir(stem: String) -> String { "runs/\(stem.isEmpty ? "run" : stem)" }

    /// The resolved configuration (every key, defaults filled in, absolute paths) as YAML.
    /// Decoding it gives back an equal `Config`.
    public func resolvedYAML() throws -> String {
        let root = YAMLOut.map([("data", DataConfig.schema.yaml(data)), ("model", ModelConfig.schema.yaml(model)),
                                ("sampler", SamplerConfig.schema.yaml(sampler)),
                                ("training", TrainingConfig.schema.yaml(training)),
                                ("inference", InferenceConfig.schema.yaml(inference)),
                                ("output", OutputConfig.schema(defaultDir: "").yaml(output))])
        do {
            return try Yams.serialize(node: root, indent: 2, width: -1, allowUnicode: true)
        } catch {
            throw ConfigError.unserializable(reason: "\(error)".replacingOccurrences(of: "\n", with: " "))
        }
    }
}

extension Config {
    /// Writes `resolvedYAML()` to `path`: what a run folder keeps so the run can be repeated
    /// or resumed with exactly these values.
    public func writeResolved(to path: String) throws {
        try (try resolvedYAML()).write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// File problems in line order, then override problems in the order the overrides were given.
private func sortedByLine(_ problems: [ConfigError], overrides: [String]) -> [ConfigError] {
    func line(_ e: ConfigError) -> Int {
        switch e {
        case .unknownKey(_, let at, _, _), .wrongType(_, let at, _, _), .outOfRange(_, let at, _, _),
             .invalidChoice(_, let at, _, _, _), .missingKey(_, let at, _), .inconsistent(_, let at, _):
            if case .override(let text) = at { return Int(Int32.max) + (overrides.firstIndex(of: text) ?? 0) }
            return at.line ?? 0
        default: return 0
        }
    }
    return problems.enumerated().sorted { (line($0.element), $0.offset) < (line($1.element), $1.offset) }.map { $0.element }
}
