import ArgumentParser
import Common
import DataPipeline
import Foundation

/// `dro-plan`'s arguments (the executable only parses them and calls `PlanCommand.run`).
public struct PlanOptions: ParsableArguments {
    @Option(help: "Dataset folder (nnU-Net v2 raw or MSD).")
    public var dataset: String?

    @Option(name: .customLong("budget-hours"), help: "Wall-clock hours the training may take on this machine.")
    public var budgetHours: Double = 24

    @Option(help: "Ranks (machines, each with --threads threads) the training will run on.")
    public var ranks: Int = 1

    @Option(help: "Compute threads per rank (training.threads).")
    public var threads: Int = 2

    @Option(help: "Where to write the config; the fingerprint goes next to it (<name>_fingerprint.json).")
    public var output: String = "plan.cfg"

    @Option(name: .customLong("run-dir"), help: "output.dir of the planned run (default: runs/<dataset name> next to the config).")
    public var runDir: String?

    @Option(name: .customLong("min-epochs"), help: "Epochs a network must be able to train within the budget to be chosen.")
    public var minEpochs: Int = BudgetRule.defaultMinEpochs

    @Option(name: .customLong("assume-cases"), help: "Plan for this many training cases instead of the dataset's (a few full-size cases standing in for a larger set).")
    public var assumeCases: Int?

    @Option(name: .customLong("max-timing-minutes"), help: "Cap on the time spent timing candidates.")
    public var maxTimingMinutes: Double = 10

    @Option(name: .customLong("memory-gb"), help: "Memory one rank may use for training, in GB (default: 80 % of this machine's RAM); larger candidates are neither timed nor chosen.")
    public var memoryGB: Double?

    @Option(name: .customLong("timed-steps"), help: "Timed training steps per candidate (after one warm-up step).")
    public var timedSteps: Int = 3

    @Option(name: .customLong("make-phantom"), help: "Write a synthetic dataset to this folder to plan on (with --phantom-cases/-shape/-spacing), then stop.")
    public var makePhantom: String?

    @Option(name: .customLong("phantom-cases"), help: "Cases of --make-phantom.")
    public var phantomCases: Int = 8

    @Option(name: .customLong("phantom-shape"), help: "Voxels x,y,z of --make-phantom.")
    public var phantomShape: String = "64,64,64"

    @Option(name: .customLong("phantom-spacing"), help: "Spacing in mm x,y,z of --make-phantom.")
    public var phantomSpacing: String = "1.2,1.2,1.2"

    public init() {}

    public func validate() throws {
        if makePhantom == nil && dataset == nil { throw ValidationError("give --dataset DIR (or --make-phantom DIR)") }
        if !(budgetHours > 0) || !budgetHours.isFinite { throw ValidationError("--budget-hours must be > 0") }
        if ranks < 1 { throw ValidationError("--ranks must be ≥ 1") }
        if threads < 1 { throw ValidationError("--threads must be ≥ 1") }
        if minEpochs < 1 || minEpochs > BudgetRule.maxEpochs { throw ValidationError("--min-epochs must be in 1…\(BudgetRule.maxEpochs)") }
        if let n = assumeCases, n < 2 { throw ValidationError("--assume-cases must be ≥ 2") }
        if timedSteps < 1 { throw ValidationError("--timed-steps must be ≥ 1") }
        if !(maxTimingMinutes > 0) { throw ValidationError("--max-timing-minutes must be > 0") }
        if let m = memoryGB, !(m > 0) { throw ValidationError("--memory-gb must be > 0") }
    }
}

public enum PlanCommand {
    public static func run(_ o: PlanOptions, output: CommandOutput = .standard) -> Int32 {
        if let folder = o.makePhantom { return makePhantom(o, folder: folder, output: output) }
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ p: String) -> String { p.hasPrefix("/") ? p : cwd + "/" + p }
        var request = PlanRequest(dataset: absolute(o.dataset ?? ""))
        request.budgetHours = o.budgetHours
        request.ranks = o.ranks
        request.threads = o.threads
        request.minEpochs = o.minEpochs
        request.assumeCases = o.assumeCases
        request.maxTimingSeconds = o.maxTimingMinutes * 60
        request.timedSteps = o.timedSteps
        if let m = o.memoryGB { request.memoryBytes = m * 1e9 }
        let started = Date()
        let plan: Plan
        do {
            plan = try Planner.plan(request) { output.err($0) }
        } catch {
            output.err("dro-plan: \(error)")
            return ExitStatus.failure
        }
        let configPath = absolute(o.output)
        let folder = (configPath as NSString).deletingLastPathComponent
        let stem = ((configPath as NSString).lastPathComponent as NSString).deletingPathExtension
        let fingerprintPath = folder + "/" + stem + "_fingerprint.json"
        let name = ((plan.layout.root ?? "dataset") as NSString).lastPathComponent
        let runDir = o.runDir ?? "runs/\(name)"
        var command = "dro-plan --dataset \(plan.layout.root ?? "") --budget-hours \(PlanError.hours(o.budgetHours)) --ranks R --threads \(o.threads)"
        if let n = o.assumeCases { command += " --assume-cases \(n)" }
        if o.minEpochs != BudgetRule.defaultMinEpochs { command += " --min-epochs \(o.minEpochs)" }
        if let m = o.memoryGB { command += " --memory-gb \(PlanError.hours(m))" }
        command += " --output \(o.output)"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try plan.fingerprint.json().write(to: URL(fileURLWithPath: fingerprintPath), options: .atomic)
            try PlanWriter.config(plan, output: runDir, planCommand: command)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
        } catch {
            output.err("dro-plan: cannot write \(configPath): \(error.localizedDescription)")
            return ExitStatus.failure
        }
        output.out(PlanWriter.table(plan))
        output.out(PlanWriter.summary(plan))
        output.out(String(format: "planning took %.0f s; wrote %@ and %@", Date().timeIntervalSince(started),
                          configPath as NSString, fingerprintPath as NSString))
        output.out("next: dro-train --config \(o.output)")
        return ExitStatus.ok
    }

    static func numbers(_ text: String, name: String) throws -> [Double] {
        let v = text.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard v.count == 3, v.allSatisfy({ $0 > 0 }) else {
            throw PlanError.invalidOption(name: name, value: text, allowed: "three numbers > 0 separated by commas")
        }
        return v
    }

    static func makePhantom(_ o: PlanOptions, folder: String, output: CommandOutput) -> Int32 {
        do {
            let shape = try numbers(o.phantomShape, name: "--phantom-shape").map { Int($0) }
            let spacing = try numbers(o.phantomSpacing, name: "--phantom-spacing")
            guard o.phantomCases >= 2 else {
                throw PlanError.invalidOption(name: "--phantom-cases", value: "\(o.phantomCases)", allowed: "≥ 2")
            }
            let summary = try PhantomGenerator.writeDataset(
                to: URL(fileURLWithPath: folder), cases: o.phantomCases, rareFraction: 0.2, seed: 0, testCases: 0,
                testRareFraction: 0.5, shape: GridShape(niftiShape: shape), spacing: Spacing(spacing))
            output.out("phantom: \(summary.trainingIDs.count) cases of \(shape) voxels at \(spacing) mm written to \(folder)")
            return ExitStatus.ok
        } catch let e as PlanError {
            output.err("dro-plan: \(e)")
            return ExitStatus.usage
        } catch {
            output.err("dro-plan: --make-phantom \(folder): \(error)")
            return ExitStatus.failure
        }
    }
}
