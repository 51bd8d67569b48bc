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
public enum TrainRun {
    public static func run(_ config: Config, resume: Bool, quiet: Bool, output: CommandOutput) -> Int32 {
        do {
            try train(config, resume: resume, quiet: quiet, output: output)
            return 0
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

    static func train(_ config: Config, resume: Bool, quiet: Bool, output: CommandOutput) throws {
        let reporter = ProgressReporter(mode: ProgressReporter.automaticMode(quiet: quiet))
        // Caught from the start: a stop while cases load or the network is built ends with the
        // same exit status (130 / 143) and one line, not a default-action kill.
        let stop = SignalStop()
        stop.start()
        defer { stop.stop() }
        let run = try RunDirectory(path: config.output.dir)
        let yaml = config.resolvedYAML()
        try checkFolder(run, resume: resume, yaml: yaml)
        Parallel.configure(threads: config.training.threads)

        let layout = try DatasetLayout.discover(config.data)
        let split = DatasetSplit(cases: layout.cases, data: config.data)
        reporter.message("loading \(split.training.count) training and \(split.validation.count) validation cases")
        let preprocessing = TrainingSetup.preprocessing(config.data)
        let placement = TrainingSetup.placement(config.data.cache, run: run)
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
        let model = UNetTrainingModel(
            network: network,
            loss: DiceCELoss(smooth: config.training.loss.diceSmooth, batchDice: config.training.loss.batchDice),
            optimizer: TrainingSetup.optimizer(config.training, count: network.parameterCount),
            threads: config.training.threads)
        let patch = GridShape(niftiShape: config.training.patchSize)
        let builder = try BatchBuilder(patchSize: patch, augmentation: config.training.augmentation,
                                       foregroundFraction: config.training.foregroundFraction)
        let cells = config.sampler.unit == .patch
            ? try PatchCells(cases: trainCases.patchCellCases, patchSize: patch.voxel3) : nil
        let source = VolumeBatchSource(store: trainCases, builder: builder, cells: cells)
        let sampler = try TrainingSetup.sampler(config.sampler, count: source.sampleCount, generator: samplerGenerator)
        var windowSettings = InferenceSettings()
        windowSettings.overlap = config.inference.overlap
        windowSettings.sigmaScale = config.inference.gaussianSigmaScale
        let validator = VolumeValidator(store: validationCases, patch: [patch.d, patch.h, patch.w],
                                        settings: windowSettings, labelNames: layout.labels.map(\.name))
        let settings = TrainingSetup.settings(config, samples: source.sampleCount)

        try RunError.checkStop(stop, phase: "building the network")
        let trainer = try Trainer(settings: settings, model: model, source: source, sampler: sampler, validator: validator,
                                  generator: dataGenerator, run: run,
                                  extraSections: try sections(config, yaml: yaml, layout: layout, network: networkOptions,
                                                              preprocessing: preprocessing),
                                  reporter: reporter, stop: stop)
        if resume {
            try trainer.resume()
            reporter.message("resuming at iteration \(trainer.progress.iteration) of \(settings.totalIterations)")
            let latest = run.latestCheckpointPath
            if let warning = try ComputeRecord.resumeWarning(try Checkpoint.read(path: latest), path: latest) {
                output.err("dro-train: " + warning)
            }
        }
        try run.writeConfig(yaml)
        reporter.message("training \(network.parameterCount) parameters: \(settings.epochs) epochs × "
                         + "\(settings.iterationsPerEpoch) iterations, batch \(settings.batchSize), "
                         + "\(source.sampleCount) samples, sampler \(config.sampler.kind.rawValue); run folder \(run.path)")
        reporter.message("compute: \(Parallel.defaultThreads) threads, OpenBLAS \(BLASRuntime.coreDescription); "
                         + KernelChoice.description)
        do {
            try trainer.train()
        } catch {
            reporter.endBar()
            // The run's own error is what the user must see; a plot failure is reported beside it.
            if config.output.plots {
                do { try TrainingPlots.write(run: run) } catch let plotError {
                    reporter.message("warning: plots not written: \(plotError)")
                }
            }
            throw error
        }
        if config.output.plots { try TrainingPlots.write(run: run) }
        let best = trainer.progress.bestMetric.map {
            String(format: "; best mean foreground Dice %.4f at epoch %d (%@)", $0, trainer.progress.bestEpoch,
                   RunDirectory.bestCheckpointName)
        } ?? ""
        reporter.message("done: \(trainer.progress.iteration) iterations\(best); logs and plots in \(run.path)")
        reporter.message(try DataTimeShare.read(run: run).summary)
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
        if let difference = firstDifference(saved, yaml) {
            throw RunError.incompatibleCheckpoint(path: latest, reason: "the configuration differs: \(difference); "
                                                  + "resume needs the configuration the run started with")
        }
    }

    /// The first differing line of two resolved configurations, ignoring `dir:` (the run folder
    /// may have moved); nil when equal.
    static func firstDifference(_ saved: String, _ current: String) -> String? {
        func lines(_ text: String) -> [String] {
            text.split(separator: "\n").map(String.init)
                .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("dir:") }
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
