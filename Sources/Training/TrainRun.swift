import Cluster
import Inference
import Common
import Config
import DataPipeline
import Foundation
import Model
import Sampling
import Tensor

/// `dro-train --config FILE [--resume] [--quiet]`: everything from the validated configuration
/// to a trained run folder. Returns the exit status: 0, 1 on failure (one line naming the file,
/// key, case or iteration), 130 / 143 after SIGINT / SIGTERM (state saved).
///
/// Under MPI (`communicator.size` > 1, every rank calls this): an error every rank raised alike
/// (`CollectiveError`: a failure reported through `check`, a divergence seen in the gathered
/// losses, a stop agreed by all) is printed once by rank 0 and returned on every rank, which then
/// finish MPI; an error of one rank alone ends every rank at once with "rank R: dro-train: …".
public enum TrainRun {
    public static func run(_ config: Config, resume: Bool, quiet: Bool, output: CommandOutput,
                           communicator: any Communicator = SingleProcess()) -> Int32 {
        do {
            try train(config, resume: resume, quiet: quiet, output: output, communicator: communicator)
            return 0
        } catch let error as AllRanks {
            if communicator.isRoot { output.err("dro-train: \(error)") }
            return error.exitCode
        } catch let error as CollectiveError {
            if communicator.isRoot { output.err("dro-train: \(error)") }
            return 1
        } catch where communicator.size > 1 {
            let text = (error as? DatasetError).map { $0.problems.map(\.description).joined(separator: "; ") } ?? "\(error)"
            communicator.fail("dro-train: \(text)")
        } catch let error as RunError {
            output.err("dro-train: \(error)")
            return error.exitCode
        } catch let error as DatasetError {
            error.problems.forEach { output.err($0.description) }
            return 1
        } catch {
            output.err("dro-train: \(error)")
            return 1
        }
    }

    static func train(_ config: Config, resume: Bool, quiet: Bool, output: CommandOutput,
                      communicator: any Communicator) throws {
        let ranks = communicator.size
        // Rank 0 alone reports.
        let reporter = ProgressReporter(mode: communicator.isRoot ? ProgressReporter.automaticMode(quiet: quiet) : .quiet)
        // Caught from the start: a stop while cases load or the network is built ends with the
        // same exit status (130 / 143) and one line, not a default-action kill.
        let stop = SignalStop()
        stop.start()
        defer { stop.stop() }
        let yaml = try config.resolvedYAML()
        if ranks > 1 { try checkRanks(config, yaml: yaml, communicator: communicator) }
        let run = try communicator.collectively { try RunDirectory(path: config.output.dir) }
        try communicator.collectively { try checkFolder(run, resume: resume, yaml: yaml) }
        Parallel.configure(threads: config.training.threads)

        let layout = try DatasetLayout.discover(config.data)
        let split = DatasetSplit(cases: layout.cases, data: config.data)
        reporter.message("loading \(split.training.count) training and \(split.validation.count) validation cases")
        let preprocessing = TrainingSetup.preprocessing(config.data)
        // The case cache is per rank (cache/rank-R) under MPI.
        let placement = TrainingSetup.placement(config.data.cache, run: run, rank: ranks > 1 ? communicator.rank : nil)
        let trainCases = try TrainingSetup.storeCases(split.training, layout: layout, preprocessing: preprocessing,
                                                      placement: placement, stop: stop)
        let validationCases = try TrainingSetup.storeCases(split.validation, layout: layout,
                                                           preprocessing: preprocessing,
                                                           placement: remaining(placement, after: trainCases), stop: stop)
        reporter.message(TrainingSetup.storageSummary(training: trainCases, validation: validationCases,
                                                      mode: config.data.cache))

        // One root generator: network initialisation, sampler and data streams, in this order.
        var root = SeededGenerator(seed: UInt64(config.training.seed))
        var networkGenerator = root.spawn()
        let samplerGenerator = root.spawn()
        let dataGenerator = root.spawn()

        let networkOptions = TrainingSetup.networkOptions(config.model, channels: layout.channels.count,
                                                          classes: layout.classCount)
        let network = try UNet3D(options: networkOptions, threads: config.training.threads, rng: &networkGenerator)
        let loss = DiceCELoss(smooth: config.training.loss.diceSmooth, batchDice: config.training.loss.batchDice,
                              diceWeight: config.training.loss.diceWeight, ceWeight: config.training.loss.ceWeight)
        let model = UNetTrainingModel(
            network: network,
            loss: loss,
            optimizer: TrainingSetup.optimizer(config.training, count: network.parameterCount),
            threads: config.training.threads)
        let patch = GridShape(niftiShape: config.training.patchSize)
        let builder = try BatchBuilder(patchSize: patch, augmentation: config.training.augmentation,
                                       foregroundFraction: config.training.foregroundFraction)
        let cells = config.sampler.unit == .patch
            ? try PatchCells(cases: trainCases.patchCellCases, patchSize: patch.voxel3) : nil
        let source = VolumeBatchSource(store: trainCases, builder: builder, cells: cells)
        let sampler = try TrainingSetup.sampler(config.sampler, count: source.sampleCount, generator: samplerGenerator,
                                                groups: source.caseGroups, names: source.caseNames)
        var windowSettings = InferenceSettings()
        windowSettings.overlap = config.inference.overlap
        windowSettings.sigmaScale = config.inference.gaussianSigmaScale
        let validator = VolumeValidator(store: validationCases, patch: [patch.d, patch.h, patch.w],
                                        settings: windowSettings, labelNames: layout.labels.map(\.name),
                                        loss: DiceCELoss(smooth: loss.smooth, batchDice: false,
                                                         diceWeight: loss.diceWeight, ceWeight: loss.ceWeight))
        let settings = TrainingSetup.settings(config, samples: source.sampleCount, ranks: ranks)

        try RunError.checkStop(stop, phase: "building the network")
        let trainer = try communicator.collectively {
            try Trainer(settings: settings, model: model, source: source, sampler: sampler, validator: validator,
                        generator: dataGenerator, run: run,
                        extraSections: try sections(config, yaml: yaml, layout: layout, network: networkOptions,
                                                    preprocessing: preprocessing),
                        reporter: reporter, stop: stop, communicator: communicator)
        }
        if resume {
            try communicator.collectively { try trainer.resume() }
            reporter.message("resuming at iteration \(trainer.progress.iteration) of \(settings.totalIterations)")
            let latest = run.latestCheckpointPath
            if communicator.isRoot,
               let warning = try ComputeRecord.resumeWarning(try Checkpoint.read(path: latest), path: latest) {
                output.err("dro-train: " + warning)
            }
        }
        if communicator.isRoot { try run.writeConfig(yaml) }
        if ranks > 1 {
            reporter.message("data-parallel: \(communicator.description), batch \(settings.batchSize) per rank, "
                             + "global batch \(settings.globalBatchSize)")
            if communicator.isRoot, let note = Launch.mpirunSignalNote() { output.err("dro-train: " + note) }
        }
        let memory = Double((try? UNet3D.trainingMemoryEstimate(options: networkOptions, batch: settings.batchSize,
                                                                spatial: [patch.d, patch.h, patch.w])) ?? 0)
        let physical = Double(ProcessInfo.processInfo.physicalMemory)
        if communicator.isRoot, memory > physical {
            output.err(String(format: "dro-train: warning: this network needs about %.1f GB per process at patch %@ and batch %d, "
                              + "more than this machine's %.1f GB: expect the system to end the run; lower "
                              + "training.patch_size, training.batch_size or model.features (dro-plan --memory-gb)",
                              memory / 1e9, "\(config.training.patchSize)" as NSString, settings.batchSize, physical / 1e9))
        }
        reporter.message("training \(network.parameterCount) parameters"
                         + String(format: " (about %.1f GB per process)", memory / 1e9) + ": \(settings.epochs) epochs × "
                         + "\(settings.iterationsPerEpoch) iterations, batch \(settings.globalBatchSize), "
                         + "\(source.sampleCount) samples, sampler \(config.sampler.kind.rawValue)"
                         + (settings.patience.map { "; stops after \($0) validations without a better validation "
                             + "\(settings.monitor.rawValue)" } ?? "") + "; run folder \(run.path)")
        reporter.message("compute: \(Parallel.defaultThreads) threads, OpenBLAS \(BLASRuntime.coreDescription), "
                         + "\(Parallel.blasThreading.description); "
                         + KernelChoice.description)
        do {
            try trainer.train()
        } catch {
            reporter.endBar()
            // The run's own error is what the user must see; a plot failure is reported beside it.
            if config.output.plots && communicator.isRoot {
                do { try TrainingPlots.write(run: run) } catch let plotError {
                    reporter.message("warning: plots not written: \(plotError)")
                }
            }
            throw error
        }
        guard communicator.isRoot else { return }
        if config.output.plots { try TrainingPlots.write(run: run) }
        let what = settings.monitor == .dice ? "mean foreground Dice" : "mean validation loss"
        let best = trainer.progress.bestMetric.map {
            String(format: "; best %@ %.4f at epoch %d (%@)", what, $0, trainer.progress.bestEpoch,
                   RunDirectory.bestCheckpointName)
        } ?? ""
        let early = trainer.stoppedEarly ? " (stopped early: training.patience)" : ""
        reporter.message("done: \(trainer.progress.iteration) iterations\(early)\(best); logs and plots in \(run.path)")
        reporter.message(try DataTimeShare.read(run: run).summary)
        if ranks > 1 && trainer.stepsRun > 0 {
            let steps = Double(trainer.stepsRun)
            let (allreduce, collectives) = (trainer.allreduceSeconds / steps, trainer.collectiveSeconds / steps)
            let step = trainer.stepSecondsTotal / steps
            reporter.message(String(format: "communication (rank 0, per step): gradient allreduce %.1f ms (%.1f %% of a %.3f s step); "
                                    + "all collectives, waiting for other ranks included, %.1f ms (%.1f %%)",
                                    allreduce * 1000, step > 0 ? 100 * allreduce / step : 0, step,
                                    collectives * 1000, step > 0 ? 100 * collectives / step : 0))
        }
    }

    /// Start-up checks of a data-parallel run, the same on every rank: every rank resolved the
    /// same configuration and runs the same binary, and the configuration suits several ranks.
    static func checkRanks(_ config: Config, yaml: String, communicator: any Communicator) throws {
        try communicator.requireAgreement(on: StableHash.of(yaml),
                                          what: "the resolved configuration (config file, --set, --output)")
        try communicator.requireAgreement(on: binaryHash(), what: "the dro-train binary (a different build)")
        if config.training.loss.batchDice {
            throw AllRanks(RunError.invalidSetting(
                name: "training.loss.batch_dice", value: "true with \(communicator.size) ranks",
                allowed: "false under MPI (batch Dice sums its statistics over the whole batch, which would "
                    + "couple the ranks' samples; train with one process to use it)"))
        }
    }

    /// A hash of this executable's bytes (0 when it cannot be read, the same on every rank that
    /// cannot): two builds of different sources are told apart without a version number.
    static func binaryHash() -> UInt64 {
        guard let data = FileManager.default.contents(atPath: "/proc/self/exe") else { return 0 }
        var hash = StableHash()
        data.withUnsafeBytes { hash.combine(bytes: $0.bindMemory(to: UInt8.self)) }
        return hash.value
    }

    /// The `auto` budget left for the validation cases once the training cases are placed.
    static func remaining(_ placement: CasePlacement, after store: CaseStore) -> CasePlacement {
        guard case let .auto(folder, budget) = placement else { return placement }
        return .auto(folder: folder, budgetBytes: max(0, budget - store.memoryBytes))
    }

    /// A fresh run refuses a folder that already holds one; a resumed run needs its checkpoint
    /// and the same configuration (output folder aside).
    static func checkFolder(_ run: RunDirectory, resume: Bool, yaml: String) throws {
        let latest = run.latestCheckpointPath
        let exists = FileManager.default.fileExists(atPath: latest)
        guard resume else {
            if exists { throw RunError.existingRun(folder: run.path, checkpoint: RunDirectory.latestCheckpointName) }
            return
        }
        guard exists else {
            throw RunError.nothingToResume(folder: run.path, checkpoint: RunDirectory.latestCheckpointName)
        }
        let saved = try Checkpoint.read(path: latest).requireText("config", path: latest)
        if let difference = configurationDifference(saved: saved, current: yaml, savedIn: latest) {
            throw RunError.incompatibleCheckpoint(path: latest, reason: "the configuration differs: \(difference); "
                                                  + "resume needs the configuration the run started with")
        }
    }

    /// The first difference between a checkpoint's resolved configuration and today's, nil when
    /// they agree. A run folder written by an older build lacks the keys added since: its text is
    /// read again by this build (absent keys take their defaults, which are the behaviour the run
    /// had) and resolved, so only a value the run really set differently counts.
    static func configurationDifference(saved: String, current: String, savedIn path: String) -> String? {
        guard let difference = firstDifference(saved, current) else { return nil }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard let upgraded = try? Config.decode(yaml: saved, sourceName: path, baseDirectory: folder).resolvedYAML()
        else { return difference }
        return firstDifference(upgraded, current) == nil ? nil : difference
    }

    /// The first differing line of two resolved configurations, ignoring `dir:` (the run folder
    /// may have moved) and `training.allreduce*` (how ranks sum gradients changes no result but
    /// float rounding, and run folders from before these keys lack them); nil when equal.
    static func firstDifference(_ saved: String, _ current: String) -> String? {
        func lines(_ text: String) -> [String] {
            text.split(separator: "\n").map(String.init)
                .filter { line in
                    let key = line.trimmingCharacters(in: .whitespaces)
                    return !key.hasPrefix("dir:") && !(line.hasPrefix("  allreduce") && key.hasPrefix("allreduce"))
                }
        }
        let (a, b) = (lines(saved), lines(current))
        for index in 0..<max(a.count, b.count) {
            let old = index < a.count ? a[index] : "(nothing)"
            let new = index < b.count ? b[index] : "(nothing)"
            if old != new {
                return "checkpoint has \"\(old.trimmingCharacters(in: .whitespaces))\", "
                    + "now \"\(new.trimmingCharacters(in: .whitespaces))\""
            }
        }
        return nil
    }

    /// Sections stored in every checkpoint besides the training state: what inference needs to
    /// rebuild the network and preprocess a new case the same way.
    static func sections(_ config: Config, yaml: String, layout: DatasetLayout, network: UNet3DOptions,
                         preprocessing: PreprocessingOptions) throws -> [(name: String, bytes: [UInt8])] {
        [
            ("config", Array(yaml.utf8)),
            (LabelsSection.name, try Checkpoint.json(LabelsSection(layout.labels))),
            (NetworkSection.name, try Checkpoint.json(NetworkSection(network: network, channels: layout.channels,
                                                                     patchSize: config.training.patchSize))),
            ("preprocessing", try Checkpoint.json(preprocessing)),
            (ComputeRecord.sectionName, try Checkpoint.json(ComputeRecord.current)),
        ]
    }
}
