import Cluster
import Common
import Config
import Foundation
import Model
import Sampling

/// The training loop. Each iteration:
/// 1. the sampler draws B distinct cases; 2. the batch source cuts and augments their patches;
/// 3. forward → one loss per sample (Double); 4. the sampler turns the fresh losses into
/// importance weights (Double; all 1 when disabled, and exactly 1 at β = 0: the same code path
/// as uniform training) and updates its history; 5. backward of mean(wᵢ·ℓᵢ); 6. gradient-norm clip;
/// 7. optimizer step at the poly learning rate of the epoch. Every random choice comes from one
/// checkpointed generator, so a resumed run repeats an uninterrupted one exactly.
///
/// Data-parallel (R ranks, `communicator`): `settings.batchSize` B is per rank and every rank
/// runs the same sampler on the same state, drawing the same global batch of G = R·B; rank r
/// builds and forwards slots r·B..<(r+1)·B (each slot's patch from its own child stream, so the
/// same as one process with batch G would cut), the G losses are all-gathered so every rank feeds
/// the sampler the same history, each rank back-propagates its slice with weights wᵢ/R (the
/// model averages over its B samples, so the sum over ranks is the gradient of the mean over G
/// of wᵢ·ℓᵢ) and one allreduce sums the gradient arena: clipping and the optimizer step are then
/// the same on every rank. Rank 0 alone writes logs and checkpoints.
public final class Trainer<Model: TrainingModel, Source: BatchSource, Validator: TrainingValidator>
where Source.Batch == Model.Batch, Validator.Model == Model {
    public typealias Generator = Source.Generator

    public let settings: TrainerSettings
    public let model: Model
    public let source: Source
    /// Sampling's sampler (hardness weighted or uniform), called directly.
    public let sampler: any Sampling.Sampler
    /// `source.caseNames` and `caseGroups`, read once (with patch cells they are built per call).
    public let caseNames: [String]
    let caseGroups: [String]
    public let validator: Validator
    public private(set) var generator: Generator
    public internal(set) var progress: TrainingProgress
    public let run: RunDirectory
    /// Sections stored verbatim in every checkpoint ("config", "labels", "preprocessing").
    public let extraSections: [(name: String, bytes: [UInt8])]
    let reporter: ProgressReporter
    let stop: SignalStop?
    /// Monotonic seconds (injectable so tests need not wait).
    let clock: () -> Double
    private var resumed = false
    /// The ranks of a data-parallel run (`SingleProcess` otherwise).
    public let communicator: any Communicator
    /// Seconds this session spent in the gradient allreduce, in every collective of the steps
    /// (waiting for the slower ranks included), in steps, and the steps run (for the summary).
    public private(set) var allreduceSeconds = 0.0
    public private(set) var collectiveSeconds = 0.0
    public private(set) var stepSecondsTotal = 0.0
    public private(set) var stepsRun = 0
    /// True when this session ended by early stopping (`settings.patience`), or a resumed run had
    /// already stopped so.
    public internal(set) var stoppedEarly = false
    /// Seconds of the current step inside the bucketed allreduce's calls during backward.
    private var bucketSeconds = 0.0
    /// The buckets of `settings.allreduceBucketElements`, built at the first step.
    private var buckets: GradientBuckets?

    /// Nil for the flat allreduce (one MPI_Allreduce after backward).
    func gradientBuckets() -> GradientBuckets? {
        guard let size = settings.allreduceBucketElements else { return nil }
        if buckets == nil {
            var count = 0
            model.withGradients { count = $0.count }
            buckets = GradientBuckets(communicator: communicator, count: count, bucketElements: size,
                                      poll: settings.allreducePoll)
        }
        return buckets
    }

    public init(settings: TrainerSettings, model: Model, source: Source, sampler: any Sampling.Sampler, validator: Validator,
                generator: Generator, run: RunDirectory, extraSections: [(name: String, bytes: [UInt8])] = [],
                reporter: ProgressReporter, stop: SignalStop? = nil, communicator: any Communicator = SingleProcess(),
                clock: @escaping () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) throws {
        guard settings.ranks == communicator.size else {
            throw RunError.invalidSetting(name: "ranks", value: "\(settings.ranks) in the settings",
                                          allowed: "the communicator's \(communicator.size)")
        }
        try settings.validate(sampleCount: sampler.count)
        caseNames = source.caseNames
        let groups = source.caseGroups
        caseGroups = caseNames.indices.map { $0 < groups.count ? groups[$0] : "" }
        guard caseNames.count == sampler.count else {
            throw RunError.invalidSetting(name: "training cases", value: "\(caseNames.count) in the data set",
                                          allowed: "the sampler's \(sampler.count) samples")
        }
        self.settings = settings
        self.model = model
        self.source = source
        self.sampler = sampler
        self.validator = validator
        self.generator = generator
        self.run = run
        self.extraSections = extraSections
        self.reporter = reporter
        self.stop = stop
        self.clock = clock
        self.communicator = communicator
        progress = TrainingProgress(batchSize: settings.globalBatchSize, iterationsPerEpoch: settings.iterationsPerEpoch,
                                    sampleCount: sampler.count, ranks: settings.ranks)
    }

    /// Restores model, optimizer, sampler, generator and progress from checkpoint_latest.
    public func resume() throws {
        let path = run.latestCheckpointPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw RunError.nothingToResume(folder: run.path, checkpoint: RunDirectory.latestCheckpointName)
        }
        let checkpoint = try Checkpoint.read(path: path)
        let saved = try TrainingProgress.decode(try checkpoint.require(TrainingProgress.sectionName, path: path), path: path)
        if saved.ranks != progress.ranks {
            // The sampler and optimizer state are global, but the global batch (and with it the
            // iterations per epoch) is ranks × training.batch_size, and the config may not change.
            func shape(_ p: TrainingProgress) -> String {
                "\(p.ranks) rank\(p.ranks == 1 ? "" : "s") × training.batch_size \(p.batchSize / max(1, p.ranks)) "
                    + "(global batch \(p.batchSize))"
            }
            throw RunError.incompatibleCheckpoint(path: path, reason: "it was written by \(shape(saved)), this run has "
                                                  + "\(shape(progress)); resume with \(saved.ranks) rank\(saved.ranks == 1 ? "" : "s")"
                                                  + (saved.ranks == 1 ? " (without mpirun)" : " (mpirun -np \(saved.ranks))"))
        }
        for (name, now, then) in [("batch size", progress.batchSize, saved.batchSize),
                                  ("iterations per epoch", progress.iterationsPerEpoch, saved.iterationsPerEpoch),
                                  ("training cases", progress.sampleCount, saved.sampleCount)] where now != then {
            throw RunError.incompatibleCheckpoint(path: path, reason: "it has \(name) \(then), the configuration \(now)")
        }
        try model.loadState(from: checkpoint, path: path)
        try SamplerSection.restore(sampler, from: try checkpoint.require(SamplerSection.name, path: path), path: path)
        guard let restored = Generator(checkpointBytes: try checkpoint.require("rng", path: path)) else {
            throw CheckpointError.badSection(path: path, name: "rng", reason: "not a generator state of this build")
        }
        generator = restored
        progress = saved
        resumed = true
    }

    /// Trains to the last iteration. Throws `RunError.interrupted` after saving on SIGINT /
    /// SIGTERM and `RunError.nonFiniteLoss` (nothing saved) when the loss diverges.
    @discardableResult
    public func train() throws -> TrainingProgress { try train(haltAfter: nil) }

    /// `haltAfter` (tests): return after that iteration without saving, as a SIGKILL would.
    func train(haltAfter: Int?) throws -> TrainingProgress {
        let logs = communicator.isRoot
            ? try run.openLogs(resume: resumed ? ResumePoint(iteration: progress.iteration,
                                                             epochsCompleted: progress.epochsCompleted) : nil)
            : nil
        let sessionStart = clock()
        let elapsedBefore = progress.elapsedSeconds
        let firstIteration = progress.iteration
        var epochLossSum: Double = 0
        var epochLossCount = 0
        if resumed && plateaued(atEpoch: progress.epochsCompleted) {
            stoppedEarly = true
            return progress
        }
        while progress.iteration < settings.totalIterations {
            let t = progress.iteration
            let epoch = t / settings.iterationsPerEpoch + 1
            if t % settings.iterationsPerEpoch == 0 { (epochLossSum, epochLossCount) = (0, 0) }
            let record = try step(iteration: t, epoch: epoch)
            progress.iteration = t + 1
            progress.elapsedSeconds = elapsedBefore + (clock() - sessionStart)
            var logged = record
            logged.seconds = progress.elapsedSeconds
            try logs?.logIteration(logged)
            epochLossSum += Double(record.loss)
            epochLossCount += 1

            let now = clock()
            let rate = now > sessionStart ? Double(progress.iteration - firstIteration) / (now - sessionStart) : nil
            reporter.update(ProgressState(iteration: progress.iteration, totalIterations: settings.totalIterations,
                                          epoch: epoch, totalEpochs: settings.epochs,
                                          loss: Float(epochLossSum / Double(epochLossCount)),
                                          learningRate: record.learningRate, iterationsPerSecond: rate),
                            now: now, force: progress.iteration == settings.totalIterations)
            if progress.iteration - firstIteration == ProgressFormat.estimateAfterSteps, progress.iteration < settings.totalIterations {
                reporter.message(ProgressFormat.startEstimate(stepSeconds: (now - sessionStart) / Double(ProgressFormat.estimateAfterSteps),
                                                              remaining: settings.totalIterations - progress.iteration))
            }

            let epochEnd = progress.iteration % settings.iterationsPerEpoch == 0
            let plateau = epochEnd ? try finishEpoch(epoch, logs: logs) : false
            let saved = plateau || isCheckpointIteration(progress.iteration, epochEnd: epochEnd, epoch: epoch)
            if saved {
                try requireIdenticalParameters()
                try saveLatest()
            }
            if progress.iteration == haltAfter { return progress }
            if plateau {
                stoppedEarly = true
                reporter.endBar()
                reporter.message("early stop after iteration \(progress.iteration) (epoch \(epoch) of \(settings.epochs)): "
                                 + "validation \(settings.monitor.rawValue) has not improved for \(settings.patience ?? 0) "
                                 + "validations; best at epoch \(progress.bestEpoch)")
                return progress
            }
            if let signal = agreedStopSignal() {
                if !saved { try saveLatest() }
                reporter.endBar()
                throw communicator.everywhere(RunError.interrupted(signal: signal, iteration: progress.iteration,
                                                                   checkpoint: run.latestCheckpointPath))
            }
        }
        reporter.endBar()
        return progress
    }

    /// checkpoint_latest after every `checkpointEvery` iterations, at the end of every
    /// `checkpointEveryEpochs` epochs, and after the last iteration.
    func isCheckpointIteration(_ iteration: Int, epochEnd: Bool, epoch: Int) -> Bool {
        if iteration == settings.totalIterations { return true }
        if let every = settings.checkpointEvery, iteration % every == 0 { return true }
        return epochEnd && epoch % settings.checkpointEveryEpochs == 0
    }

    /// The first stop signal of any rank (lowest rank first), agreed by every rank at the end of
    /// each iteration so all ranks stop after the same one.
    func agreedStopSignal() -> Int32? {
        guard communicator.size > 1 else { return stop?.signal }
        let start = clock()
        let all = communicator.allgather([Double(stop?.signal ?? 0)]).map { Int32($0.first ?? 0) }
        collectiveSeconds += clock() - start
        return all.first { $0 != 0 }
    }

    /// Under MPI: stops every rank if their parameters are no longer bitwise identical (checked
    /// at every checkpoint).
    func requireIdenticalParameters() throws {
        guard communicator.size > 1 else { return }
        var failure: Error?
        model.withParameters { parameters in
            do { try communicator.requireIdenticalParameters(parameters, step: progress.iteration) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// One optimisation step (steps 1–7 of the type's comment).
    func step(iteration t: Int, epoch: Int) throws -> IterationRecord {
        let stepStart = clock()
        let ranks = communicator.size
        let indices: [Int]
        do {
            indices = try sampler.nextBatch(size: settings.globalBatchSize)
        } catch {
            throw communicator.everywhere(RunError.step(iteration: t + 1, reason: "sampler: \(error)"))
        }
        let slots = communicator.rank * settings.batchSize ..< (communicator.rank + 1) * settings.batchSize
        let names = indices.map { caseNames[$0] }
        var dataSeconds = 0.0
        var forwardEnd = 0.0
        // A failure here is this rank's: under MPI every rank learns of it in the same step.
        let local: [Double] = try communicator.collectively {
            defer { forwardEnd = clock() }
            let batch: Model.Batch
            let losses: [Double]
            do {
                let dataStart = clock()
                batch = try source.batch(globalCases: indices, slots: slots, generator: &generator)
                dataSeconds = clock() - dataStart
                losses = try model.forward(batch)
            } catch {
                throw RunError.step(iteration: t + 1, reason: "\(error)")
            }
            guard losses.count == slots.count else {
                throw RunError.step(iteration: t + 1, reason: "the model returned \(losses.count) losses for \(slots.count) cases")
            }
            return losses
        }
        let losses = ranks == 1 ? local : communicator.allgather(local).flatMap { $0 }
        if ranks > 1 { collectiveSeconds += clock() - forwardEnd }
        if let bad = losses.first(where: { !$0.isFinite }) {
            throw communicator.everywhere(divergence(iteration: t + 1, loss: bad, cases: names))
        }
        let weights: [Double]
        do {
            weights = try sampler.feedBack(indices: indices, losses: losses)
        } catch {
            throw communicator.everywhere(RunError.step(iteration: t + 1, reason: "sampler: \(error)"))
        }
        let loss = zip(weights, losses).reduce(0.0) { $0 + $1.0 * $1.1 } / Double(indices.count)
        let buckets = ranks > 1 ? gradientBuckets() : nil
        do {
            // The model averages over its B samples; 1/R makes the sum over ranks the mean over G.
            let mine = ranks == 1 ? weights : weights[slots].map { $0 / Double(ranks) }
            if let buckets {
                // Bucketed: finished buckets start their sum while backward goes on.
                model.withGradients { buckets.begin($0) }
                model.setGradientsReadyHandler { [clock] range in
                    let start = clock()
                    buckets.ready(range)
                    self.bucketSeconds += clock() - start
                }
            }
            defer { if buckets != nil { model.setGradientsReadyHandler(nil) } }
            try model.backward(sampleWeights: mine)
        } catch {
            throw RunError.step(iteration: t + 1, reason: "\(error)")
        }
        if ranks > 1 {
            let start = clock()
            if let buckets {
                buckets.finish()
            } else {
                model.withGradients { communicator.allreduceSum($0) }
            }
            let seconds = clock() - start + bucketSeconds
            bucketSeconds = 0
            allreduceSeconds += seconds
            collectiveSeconds += seconds
        }
        let norm = model.gradientNorm()
        guard norm.isFinite else {
            throw communicator.everywhere(divergence(iteration: t + 1, loss: Double(norm), cases: names, what: "gradient norm"))
        }
        let factor = Schedule.clipFactor(norm: norm, maxNorm: settings.gradientClipNorm)
        if factor < 1 { model.scaleGradients(by: factor) }
        let learningRate = Schedule.polyLearningRate(base: settings.learningRate, epoch: epoch - 1,
                                                     epochs: settings.epochs, exponent: settings.polyExponent)
        model.step(learningRate: learningRate)
        stepsRun += 1
        stepSecondsTotal += clock() - stepStart
        return IterationRecord(iteration: t + 1, epoch: epoch, loss: loss, learningRate: learningRate,
                               gradientNorm: norm, seconds: 0, cases: names, caseLosses: losses, caseWeights: weights,
                               dataSeconds: dataSeconds, stepSeconds: clock() - stepStart)
    }

    func divergence(iteration: Int, loss: Double, cases: [String], what: String = "loss") -> RunError {
        reporter.endBar()
        let latest = run.latestCheckpointPath
        return RunError.nonFiniteLoss(iteration: iteration, loss: loss, cases: cases,
                                      checkpoint: FileManager.default.fileExists(atPath: latest) ? latest : nil,
                                      what: what)
    }

    /// checkpoint_latest, written by rank 0 alone.
    func saveLatest() throws {
        guard communicator.isRoot else { return }
        try makeCheckpoint().write(to: run.latestCheckpointPath)
    }

    /// Everything a resume needs: caller's sections, model + optimizer, sampler, generator,
    /// progress.
    func makeCheckpoint() -> Checkpoint {
        var checkpoint = Checkpoint()
        for (name, bytes) in extraSections { checkpoint.set(name, bytes) }
        model.saveState(into: &checkpoint)
        checkpoint.set(SamplerSection.name, sampler.stateBytes())
        checkpoint.set("rng", generator.checkpointBytes)
        checkpoint.set(TrainingProgress.sectionName, progress.encoded())
        return checkpoint
    }
}
