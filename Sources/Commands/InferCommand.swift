import Cluster
import Common
import DataPipeline
import Foundation
import Inference
import NIfTI
import Training

/// Everything `dro-infer` was asked to do (parsed by the executable, nothing decided there).
public struct InferOptions: Sendable {
    /// Checkpoint written by dro-train.
    public var model: String
    /// Further checkpoints whose softmax is averaged with the first's.
    public var ensemble: [String] = []
    /// Files and folders (see `InputDiscovery`).
    public var inputs: [String]
    /// A folder (created if needed), or a `.nii.gz` / `.nii` file name for a single case.
    public var output: String
    public var settings = InferenceSettings()
    /// Worker threads for the GEMMs and the elementwise passes (`Parallel.configure`).
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Replace existing outputs (otherwise such a case fails and the file is kept).
    public var overwrite = false
    /// Require a dataset.json next to the inputs to name the model's channels.
    public var checkChannelNames = true
    /// No progress lines, only problems.
    public var quiet = false

    public init(model: String, inputs: [String], output: String) {
        self.model = model; self.inputs = inputs; self.output = output
    }
}

/// `dro-infer`: load the checkpoint(s), find the cases, segment each one and write its label
/// map (and probabilities) with the input's geometry. A failing case is reported and skipped;
/// the exit status is 1 when any case failed, 64 for usage errors, else 0.
///
/// Under `mpirun`/`srun` with R ranks every rank loads the model(s) and lists the cases; case i
/// (in the listing's order) is segmented by rank i % R; rank 0 reports the summary and every rank
/// exits with the worst status over the ranks.
public enum InferCommand {
    public static func run(_ options: InferOptions, output: CommandOutput = .standard) -> Int32 {
        let communicator: any Communicator
        do {
            communicator = try Communicators.fromEnvironment()
        } catch {
            output.err("dro-infer: \(error)")
            return ExitStatus.failure
        }
        let status = run(options, output: output, communicator: communicator)
        communicator.finish()
        return status
    }

    static func run(_ options: InferOptions, output: CommandOutput, communicator: any Communicator) -> Int32 {
        guard communicator.size > 1 else { return runRank(options, output: output, communicator: communicator) }
        // Setup problems (the same on every rank, usually) are printed by rank 0 alone.
        let isRoot = communicator.isRoot
        let setupErrors = CommandOutput(out: { output.out($0) }, err: { text in
            if isRoot { output.err(text) }
        })
        return runRank(options, output: output, setupOutput: setupErrors, communicator: communicator)
    }

    static func runRank(_ options: InferOptions, output: CommandOutput, setupOutput: CommandOutput? = nil,
                        communicator: any Communicator) -> Int32 {
        let (rank, ranks) = (communicator.rank, communicator.size)
        var setupStatus = ExitStatus.ok
        let setup = setupOutput ?? output
        var models: [TrainedModel] = [], cases: [PlannedCase] = [], plan = OutputPlan.none
        do {
            try options.settings.validate()
            guard options.threads >= 1 else {
                throw InferenceError.usage(option: "--threads", found: "\(options.threads)", allowed: "an integer ≥ 1")
            }
            models = try ([options.model] + options.ensemble).map { try TrainedModel.load(path: $0, threads: options.threads) }
            for other in models.dropFirst() { try models[0].checkCompatible(other) }
            cases = try InputDiscovery.cases(inputs: options.inputs, channels: models[0].channels,
                                             checkNames: options.checkChannelNames)
            plan = try OutputPlan(output: options.output, caseCount: cases.count)
            try plan.checkWritable()
            // Rank 0 alone: another rank's unfinished file is that rank's live output.
            if rank == 0 {
                let removed = plan.removeStaleTemporaries(for: cases.map(\.id), probabilities: options.settings.probabilities)
                if !removed.isEmpty && !options.quiet {
                    output.err("dro-infer: removed \(removed.count) unfinished file(s) of an earlier run that was killed: "
                               + removed.map(InputDiscovery.lastComponent).joined(separator: ", "))
                }
            }
        } catch let error as InferenceError {
            setup.err("dro-infer: \(error)")
            setupStatus = error.exitCode
        } catch {
            setup.err("dro-infer: \(oneLine(error))")
            setupStatus = ExitStatus.failure
        }
        if ranks > 1 {
            // Every rank learns whether any rank failed to start (after rank 0's clean-up).
            let statuses = communicator.allgather([Double(setupStatus)]).map { Int32($0.first ?? 1) }
            if let worst = statuses.max(), worst != ExitStatus.ok {
                if setupStatus == ExitStatus.ok, rank == 0 {
                    output.err("dro-infer: stopped: rank(s) \(statuses.indices.filter { statuses[$0] != 0 }.map(String.init).joined(separator: ", ")) could not start")
                } else if setupStatus != ExitStatus.ok, rank != 0, statuses[0] == ExitStatus.ok {
                    output.err("dro-infer: rank \(rank) could not start (see above)")
                }
                return worst
            }
        } else if setupStatus != ExitStatus.ok {
            return setupStatus
        }
        // SIGINT / SIGTERM stop between cases: every output is whole (written atomically), and a
        // rerun continues with the cases not yet written (or all, with --overwrite).
        let stop = SignalStop()
        stop.start()
        defer { stop.stop() }
        var failed: [String] = []
        var stopped: Int32?
        var done = 0
        for (index, planned) in cases.enumerated() where index % ranks == rank {
            if let signal = stop.signal {
                if ranks > 1 {
                    stopped = signal
                    break
                }
                output.err("dro-infer: stopped by \(SignalStop.name(signal)) after \(index) of \(cases.count) case(s); "
                           + "outputs written so far are complete")
                return SignalStop.exitStatus(signal)
            }
            let counter = "[\(index + 1)/\(cases.count)] \(planned.id)"
            let start = Date()
            do {
                let written = try segment(planned, models: models, plan: plan, options: options)
                if !options.quiet {
                    output.err("dro-infer: \(counter): \(written.shape), "
                               + String(format: "%.1f s", Date().timeIntervalSince(start)) + " → \(written.path)")
                }
                done += 1
            } catch {
                failed.append(planned.id)
                output.err("dro-infer: \(counter) failed: \(oneLine(error))")
            }
        }
        if ranks > 1 {
            return summary(done: done, failed: failed, stopped: stopped, cases: cases.count, plan: plan,
                           options: options, output: output, communicator: communicator)
        }
        guard failed.isEmpty else {
            output.err("dro-infer: \(failed.count) of \(cases.count) case(s) failed: \(failed.joined(separator: ", "))")
            return ExitStatus.failure
        }
        if !options.quiet { output.err("dro-infer: \(cases.count) case(s) segmented into \(plan.description)") }
        return ExitStatus.ok
    }

    /// The end of a run over several ranks: every rank's counts gathered, rank 0 reports, every
    /// rank returns the worst status (a stop signal's 130 / 143, else 1 if any case failed).
    static func summary(done: Int, failed: [String], stopped: Int32?, cases: Int, plan: OutputPlan,
                        options: InferOptions, output: CommandOutput, communicator: any Communicator) -> Int32 {
        let mine = ([String(stopped ?? 0), String(done)] + failed).joined(separator: "\u{1F}")
        let all = communicator.allgather(mine).map { $0.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init) }
        let signals = all.map { Int32($0[0]) ?? 0 }
        let written = all.map { Int($0[1]) ?? 0 }.reduce(0, +)
        let failures = all.flatMap { $0.dropFirst(2) }
        var status = ExitStatus.ok
        if !failures.isEmpty { status = ExitStatus.failure }
        if let signal = signals.first(where: { $0 != 0 }) { status = SignalStop.exitStatus(signal) }
        guard communicator.isRoot else { return status }
        if let signal = signals.first(where: { $0 != 0 }) {
            output.err("dro-infer: stopped by \(SignalStop.name(signal)) with \(written) of \(cases) case(s) written "
                       + "over \(communicator.size) ranks; outputs written so far are complete")
        }
        if !failures.isEmpty {
            output.err("dro-infer: \(failures.count) of \(cases) case(s) failed: \(failures.joined(separator: ", "))")
        } else if status == ExitStatus.ok && !options.quiet {
            output.err("dro-infer: \(cases) case(s) segmented into \(plan.description) by \(communicator.size) ranks")
        }
        return status
    }

    /// Segments and writes one case; returns its shape text and label file.
    static func segment(_ planned: PlannedCase, models: [TrainedModel], plan: OutputPlan,
                        options: InferOptions) throws -> (shape: String, path: String) {
        if let problem = planned.problem { throw problem }
        guard let files = planned.files else { throw InferenceError.emptyInput(path: planned.id) }
        let labelsPath = plan.labelsPath(planned.id)
        let probabilitiesPath = options.settings.probabilities ? plan.probabilitiesPath(planned.id) : nil
        for path in [labelsPath] + (probabilitiesPath.map { [$0] } ?? []) {
            let resolved = URL(fileURLWithPath: path).standardizedFileURL.path
            if files.channelPaths.contains(where: { URL(fileURLWithPath: $0).standardizedFileURL.path == resolved }) {
                throw InferenceError.write(caseID: planned.id, path: path, reason: "it is this case's input image")
            }
            if !options.overwrite && FileManager.default.fileExists(atPath: path) {
                throw InferenceError.outputExists(caseID: planned.id, path: path)
            }
        }
        let raw = try CaseVolume.load(files, channels: models[0].channels.count, classes: models[0].classes)
        // The geometry (qform, sform, codes, pixdim, units, format, extensions) comes from the
        // first input file; an output its format cannot hold is refused before any work.
        let reference = try NIfTIImage.read(path: files.channelPaths[0])
        let spatial = raw.shape.niftiShape
        try NIfTIHeader.like(reference.header, shape: spatial, datatype: .uint8).checkWritable(to: labelsPath)
        let result = try VolumeSegmenter.segment(raw, models: models, settings: options.settings)
        try write(NIfTIImage.like(reference, shape: spatial, labels: result.labels), to: labelsPath, caseID: planned.id)
        if let path = probabilitiesPath, let p = result.probabilities {
            try write(NIfTIImage.like(reference, shape: spatial + [models[0].classes], values: p), to: path, caseID: planned.id)
        }
        return (spatial.map(String.init).joined(separator: "×"), labelsPath)
    }

    static func write(_ image: NIfTIImage, to path: String, caseID: String) throws {
        do { try image.write(to: path) } catch { throw InferenceError.write(caseID: caseID, path: path, reason: "\(error)") }
    }

    /// Errors that list several problems (a case's `DatasetError`) on one line.
    static func oneLine(_ error: Error) -> String {
        if let dataset = error as? DatasetError { return dataset.problems.map(\.description).joined(separator: "; ") }
        return "\(error)"
    }
}

/// Where the outputs of each case go: `FOLDER/CASE.nii.gz` (+ `CASE_probabilities.nii.gz`), or
/// the one file named by `--output` for a single case.
struct OutputPlan: CustomStringConvertible {
    static let probabilitiesSuffix = "_probabilities"
    static let labelEnding = ".nii.gz"
    let folder: String?
    let file: String?

    /// No output (a rank whose setup failed).
    static let none = OutputPlan(folder: nil, file: nil)

    private init(folder: String?, file: String?) {
        self.folder = folder
        self.file = file
    }

    init(output: String, caseCount: Int) throws {
        if InputDiscovery.stem(InputDiscovery.lastComponent(output)) != nil {
            guard caseCount == 1 else {
                throw InferenceError.usage(option: "--output \(output)", found: "a file name for \(caseCount) cases",
                                           allowed: "a folder (one CASE.nii.gz per case), or one input case")
            }
            folder = nil; file = output
            try OutputPlan.makeFolder(URL(fileURLWithPath: output).deletingLastPathComponent().path)
        } else {
            folder = output; file = nil
            try OutputPlan.makeFolder(output)
        }
    }

    static func makeFolder(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw InferenceError.write(caseID: "(all)", path: path, reason: "cannot create the output folder: \(error.localizedDescription)")
        }
    }

    /// Fails now, naming the folder, when the output folder cannot take a file (read-only,
    /// permissions), instead of after the first case has been segmented.
    func checkWritable() throws {
        let folder = self.folder ?? URL(fileURLWithPath: file ?? ".").deletingLastPathComponent().path
        let probe = InputDiscovery.folderJoin(folder, ".dro-infer-probe-\(getpid())")
        guard FileManager.default.createFile(atPath: probe, contents: Data()) else {
            throw InferenceError.write(caseID: "(all)", path: folder,
                                       reason: "cannot create files in the output folder (\(String(cString: strerror(errno))))")
        }
        unlink(probe)
    }

    /// Removes temporary files (`NAME.tmp<pid>`) that a killed earlier run left next to this
    /// run's outputs, when the process that wrote them is gone. Returns their paths.
    func removeStaleTemporaries(for ids: [String], probabilities: Bool) -> [String] {
        let outputs = ids.flatMap { [labelsPath($0)] + (probabilities ? [probabilitiesPath($0)] : []) }
        var removed: [String] = []
        for path in outputs {
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            let prefix = InputDiscovery.lastComponent(path) + ".tmp"
            // A folder that cannot be listed holds no leftovers this run could remove either.
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in names where name.hasPrefix(prefix) {
                guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid(),
                      kill(pid, 0) != 0 && errno == ESRCH else { continue }
                let stale = InputDiscovery.folderJoin(folder, name)
                if unlink(stale) == 0 { removed.append(stale) }
            }
        }
        return removed
    }

    func labelsPath(_ id: String) -> String {
        file ?? InputDiscovery.folderJoin(folder ?? ".", id + OutputPlan.labelEnding)
    }

    func probabilitiesPath(_ id: String) -> String {
        guard let file else { return InputDiscovery.folderJoin(folder ?? ".", id + OutputPlan.probabilitiesSuffix + OutputPlan.labelEnding) }
        let name = InputDiscovery.lastComponent(file), stem = InputDiscovery.stem(name) ?? name
        return String(file.dropLast(name.count)) + stem + OutputPlan.probabilitiesSuffix + String(name.dropFirst(stem.count))
    }

    var description: String { folder ?? file ?? "" }
}
