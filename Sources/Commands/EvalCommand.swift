import Evaluation
import Foundation

/// Everything `dro-eval` accepts, already parsed by the executable.
public struct EvalOptions: Sendable {
    public var pred: String
    public var gt: String
    public var labels: String?
    public var datasetJSON: String?
    public var hd95Mode: HD95Mode = .directed
    public var surfaceDiceTolerance: Double?
    public var groups: String?
    public var worst: Int = Robustness.defaultWorstCount
    public var compare: String?
    public var csv: String?
    public var json: String?
    public var html: String?
    public var image: String?

    public init(pred: String, gt: String) { self.pred = pred; self.gt = gt }
}

/// The library entry point of `dro-eval`.
public enum EvalCommand {
    /// Exit status when every case was scored and written.
    public static let exitOK: Int32 = 0
    /// Exit status when a case could not be scored, a prediction is missing, or input is bad.
    public static let exitFailure: Int32 = 1

    /// Runs the evaluation, prints the console report to standard output and one-line errors to
    /// standard error, writes the requested files; returns the exit status.
    public static func run(_ options: EvalOptions) -> Int32 {
        do {
            let results = try evaluate(options)
            print(ConsoleReport.render(results, worst: options.worst), terminator: "")
            try writeOutputs(results, options)
            let failed = !results.caseErrors.isEmpty || !results.match.missingPredictions.isEmpty
            for e in results.caseErrors { printError("dro-eval: \(e.message)") }
            for m in results.match.missingPredictions {
                printError("dro-eval: case \(m.caseID): no prediction in \(m.folder)")
            }
            return failed ? exitFailure : exitOK
        } catch {
            printError("dro-eval: \(error)")
            return exitFailure
        }
    }

    /// Validates options, matches cases and scores them.
    public static func evaluate(_ o: EvalOptions) throws -> EvaluationResults {
        if o.labels != nil && o.datasetJSON != nil {
            throw EvaluationError.badOption(option: "--labels/--dataset-json", value: "both given",
                                            allowed: "one of them, or neither (labels found in the ground truth)")
        }
        if let t = o.surfaceDiceTolerance, !(t.isFinite && t >= 0) {
            throw EvaluationError.badOption(option: "--surface-dice", value: "\(t)", allowed: "a finite tolerance ≥ 0 mm")
        }
        if o.worst < 0 { throw EvaluationError.badOption(option: "--worst", value: "\(o.worst)", allowed: "≥ 0") }
        let labels = try o.labels.map(LabelSource.parseList) ?? o.datasetJSON.map(LabelSource.fromDatasetJSON)
        let methods = [o.pred] + (o.compare.map { [$0] } ?? [])
        let options = ["--pred"] + (o.compare == nil ? [] : ["--compare"])
        let match = try CaseMatching.match(gt: o.gt, predictions: methods, predOptions: options)
        let groups = try o.groups.map(GroupTable.read)
        if let groups, let path = o.groups {
            for c in match.cases where groups[c.caseID] == nil {
                throw EvaluationError.caseWithoutGroup(caseID: c.caseID, path: path)
            }
        }
        return Evaluator.evaluate(match: match, methods: methods, labels: labels, groups: groups,
                                  options: MetricOptions(hd95Mode: o.hd95Mode,
                                                         surfaceDiceTolerance: o.surfaceDiceTolerance))
    }

    static func writeOutputs(_ r: EvaluationResults, _ o: EvalOptions) throws {
        if let path = o.csv { try FileReports.write(FileReports.csv(r), to: path) }
        if let path = o.json { try FileReports.write(FileReports.json(r, worst: o.worst), to: path) }
        if let dir = o.html { try HTMLReport.write(r, to: dir, worst: o.worst, image: o.image) }
    }

    static func printError(_ s: String) {
        FileHandle.standardError.write((s + "\n").data(using: .utf8)!)
    }
}
