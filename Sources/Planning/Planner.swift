import Common
import Config
import DataPipeline
import Foundation
import Model
import Tensor
import Training

/// What `dro-plan` is asked.
public struct PlanRequest: Sendable {
    public var dataset: String
    public var budgetHours = 24.0
    public var ranks = 1
    public var threads = 2
    public var batch = 2
    /// Plan for this many training cases (nil: the dataset's), e.g. a few full-size cases
    /// standing in for a larger dataset.
    public var assumeCases: Int?
    public var minEpochs = BudgetRule.defaultMinEpochs
    /// Cap on the seconds spent timing candidates (after the first, which is always timed).
    public var maxTimingSeconds = 600.0
    public var timedSteps = 3
    /// Bytes one rank may hold while training: candidates whose estimate
    /// (`UNet3D.trainingMemoryEstimate`) is larger are neither timed nor chosen.
    public var memoryBytes = Planner.defaultMemoryBytes()
    /// Feature ladders tried: nnU-Net's base 32, and narrower ones for small budgets.
    public var featureBases = [32, 16, 8]
    public init(dataset: String) { self.dataset = dataset }
}

/// One row of the candidate table.
public struct CandidateRow: Sendable {
    public var candidate: Candidate
    /// Measured on this machine, or predicted from the nearest timed candidate's seconds per
    /// multiply-add (nil: not reached).
    public var stepSeconds: Double?
    public var forwardSeconds: Double?
    public var timed: Bool
    public var parameters: Int?
    public var epochsFitting: Int?
    public var validationEvery: Int?
    public var predictedHours: Double?
    public var macs: Double
    /// Estimated bytes of one rank's training process (`UNet3D.trainingMemoryEstimate`).
    public var memoryBytes: Double = 0
    /// Above the request's memory limit: never timed or chosen.
    public var tooLarge = false
}

/// The outcome: the chosen network and its schedule, with everything needed to explain it.
public struct Plan: Sendable {
    public var request: PlanRequest
    public var fingerprint: DatasetFingerprint
    public var layout: DatasetLayout
    public var targetSpacing: [Double]
    public var medianShape: [Int]
    public var anisotropicAxis: Int?
    public var trainingCases: Int
    public var validationCases: Int
    public var model: TimeModel
    public var rows: [CandidateRow]
    public var chosen: Int
    public var epochs: Int
    public var validationEvery: Int
    public var allreduceSeconds: Double
    public var reason: String
    /// The 1-minute load average and the cores when timing started (Linux /proc/loadavg), nil elsewhere.
    public var load: (average: Double, cores: Int)?

    public var choice: CandidateRow { rows[chosen] }
    /// Step time used for the schedule: measured compute + modelled allreduce.
    public var stepSeconds: Double { (choice.stepSeconds ?? 0) + allreduceSeconds }
    public var totalIterations: Int { epochs * model.iterationsPerEpoch }
    public var predictedSeconds: Double {
        model.seconds(epochs: epochs, stepSeconds: stepSeconds, forwardSeconds: choice.forwardSeconds ?? 0,
                      validationEvery: validationEvery)
    }
}

public enum Planner {
    /// Fingerprint, rules, timing, choice. `log` receives progress lines.
    public static func plan(_ request: PlanRequest, log: (String) -> Void) throws -> Plan {
        guard request.budgetHours > 0, request.budgetHours.isFinite else {
            throw PlanError.invalidOption(name: "--budget-hours", value: "\(request.budgetHours)", allowed: "a number of hours > 0")
        }
        var data = DataConfig()
        data.dataset = request.dataset
        let layout = try DatasetLayout.discover(data)
        log("fingerprint: \(layout.cases.count) cases, channels \(layout.channels), \(layout.classCount) labels")
        let fingerprint = try DatasetFingerprint.extract(layout) { n, total, id in
            if n == 1 || n == total || n % 10 == 0 { log("  reading case \(n)/\(total) (\(id))") }
        }
        let target = PlanningRules.targetSpacing(spacings: fingerprint.spacings, shapesAfterCrop: fingerprint.shapesAfterCrop)
        let resampled = fingerprint.cases.map {
            PlanningRules.resampledShape($0.shapeAfterCrop, spacing: $0.spacing, target: target)
        }
        let median = (0..<3).map { a in Int(PlanningRules.percentile(resampled.map { Double($0[a]) }, 50).rounded()) }
        let medianSpacing = (0..<3).map { a in PlanningRules.percentile(fingerprint.spacings.map { $0[a] }, 50) }
        let aniso = (0..<3).first { abs(target[$0] - medianSpacing[$0]) > 1e-9 }

        // The split dro-train will make with the plan's data.fold 0 of data.folds 5.
        var foldData = data
        foldData.fold = 0
        foldData.folds = 5
        let split = DatasetSplit(cases: layout.cases, data: foldData)
        var trainingCount = split.training.count, validationCount = split.validation.count
        var validationShapes = split.validation.compactMap { c in fingerprint.cases.firstIndex { $0.id == c.id }.map { resampled[$0] } }
        if let n = request.assumeCases {
            validationCount = (n + 4) / 5   // fold 0 of 5: every fifth case, the first included
            trainingCount = n - validationCount
            validationShapes = Array(repeating: median, count: validationCount)
        }
        guard trainingCount >= request.batch * request.ranks else {
            throw PlanError.noCandidate("\(trainingCount) training cases are fewer than a global batch of \(request.batch) × \(request.ranks) ranks")
        }

        // Cases for timing: the two closest to the median size, preprocessed as dro-train does.
        var trainingData = data
        trainingData.targetSpacing = target
        let preprocessing = TrainingSetup.preprocessing(trainingData)
        let byMedian = layout.cases.indices.sorted {
            distance(resampled[$0], median) < distance(resampled[$1], median)
        }
        var timingCases: [CaseVolume] = []
        var preprocessSeconds: [Double] = []
        for i in byMedian.prefix(min(2, layout.cases.count)) {
            let start = Date()
            let raw = try CaseVolume.load(layout.cases[i], channels: layout.channels.count, classes: layout.classCount)
            timingCases.append(try Preprocessor.preprocess(raw, options: preprocessing))
            preprocessSeconds.append(Date().timeIntervalSince(start))
        }
        let startup = preprocessSeconds.reduce(0, +) / Double(preprocessSeconds.count) * Double(trainingCount + validationCount)
        let model = TimeModel(trainingCases: trainingCount, batch: request.batch, ranks: request.ranks,
                              startupSeconds: startup, validationWindows: 0)

        // Candidates: nnU-Net's patch sequence × feature ladders, in order of preference.
        let sequence = PlanningRules.patchSequence(spacing: target, medianShape: median)
        var candidates: [Candidate] = []
        for t in sequence where t.levels >= 2 {
            for base in request.featureBases.sorted(by: >) {
                candidates.append(Candidate(topology: t, features: PlanningRules.features(levels: t.levels, base: base)))
            }
        }
        candidates = BudgetRule.ordered(candidates)
        guard !candidates.isEmpty else { throw PlanError.noCandidate("the median shape \(median) is too small for a U-Net") }
        let channels = layout.channels.count, classes = layout.classCount
        var rows = candidates.map {
            CandidateRow(candidate: $0, stepSeconds: nil, forwardSeconds: nil, timed: false, parameters: nil,
                         epochsFitting: nil, validationEvery: nil, predictedHours: nil,
                         macs: $0.forwardMACs(inChannels: channels, classes: classes))
        }
        for i in rows.indices {
            let c = rows[i].candidate
            let options = CandidateTimer.timedNetwork(c, channels: channels, classes: classes)
            let bytes = (try? UNet3D.trainingMemoryEstimate(options: options, batch: request.batch,
                                                             spatial: [c.patch[2], c.patch[1], c.patch[0]])) ?? Int.max
            rows[i].memoryBytes = Double(bytes)
            rows[i].tooLarge = Double(bytes) > request.memoryBytes
        }
        guard rows.contains(where: { !$0.tooLarge }) else {
            let least = rows.map(\.memoryBytes).min() ?? 0
            throw PlanError.noCandidate(String(format: "the smallest candidate needs about %.1f GB for training, more than the %.1f GB allowed (--memory-gb)",
                                               least / 1e9, request.memoryBytes / 1e9))
        }
        let tooLarge = rows.filter(\.tooLarge).count
        if tooLarge > 0 {
            log(String(format: "%d of %d candidates need more than %.1f GB for training (--memory-gb) and are skipped",
                       tooLarge, rows.count, request.memoryBytes / 1e9))
        }
        func windows(_ patch: [Int]) -> Int {
            validationShapes.reduce(0) { sum, shape in
                sum + (0..<3).reduce(1) { $0 * SlidingWindow.starts(size: shape[$1], patch: patch[$1], overlap: 0.5).count }
            }
        }
        let budget = request.budgetHours * 3600
        var timer = CandidateTimer(cases: timingCases, channels: channels, classes: classes, batch: request.batch,
                                   threads: request.threads)
        timer.timedSteps = request.timedSteps
        let timingStart = Date()
        let load = Planner.loadAverage()
        var timedCount = 0

        func time(_ i: Int) throws {
            timedCount += 1
            let c = rows[i].candidate
            log("  timing \(timedCount): patch \(c.patch.map(String.init).joined(separator: "×")), features \(c.features) …")
            let m = try timer.measure(c)
            rows[i].stepSeconds = m.stepSeconds
            rows[i].forwardSeconds = m.forwardSeconds
            rows[i].parameters = m.parameters
            rows[i].timed = true
            log(String(format: "    %.3f s/step, %.3f s per validation window", m.stepSeconds, m.forwardSeconds))
        }
        /// Predictions for untimed rows from the timed row nearest in multiply-adds.
        func predict() {
            let timed = rows.indices.filter { rows[$0].timed }
            for i in rows.indices where !rows[i].tooLarge {
                if !rows[i].timed, let j = timed.min(by: { abs(log2(rows[$0].macs / rows[i].macs)) < abs(log2(rows[$1].macs / rows[i].macs)) }) {
                    let scale = rows[i].macs / rows[j].macs
                    rows[i].stepSeconds = rows[j].stepSeconds! * scale
                    rows[i].forwardSeconds = rows[j].forwardSeconds! * scale
                }
                guard let step = rows[i].stepSeconds, let forward = rows[i].forwardSeconds else { continue }
                var m = model
                m.validationWindows = windows(rows[i].candidate.patch)
                let params = rows[i].parameters ?? approximateParameters(rows[i].candidate, channels: channels, classes: classes)
                let s = step + TimeModel.allreduceSeconds(parameters: params, ranks: request.ranks)
                let every = m.validationEvery(stepSeconds: s, forwardSeconds: forward)
                rows[i].validationEvery = every
                rows[i].epochsFitting = m.epochsFitting(budgetSeconds: budget, stepSeconds: s, forwardSeconds: forward,
                                                        validationEvery: every, maxEpochs: BudgetRule.maxEpochs)
                rows[i].predictedHours = m.seconds(epochs: max(request.minEpochs, rows[i].epochsFitting ?? 0), stepSeconds: s,
                                                   forwardSeconds: forward, validationEvery: every) / 3600
            }
        }
        func fits(_ i: Int) -> Bool { (rows[i].epochsFitting ?? 0) >= request.minEpochs }

        // The cheapest candidate first: it calibrates the predictions and gives the minimum.
        let cheapest = rows.indices.filter { !rows[$0].tooLarge }.min { rows[$0].macs < rows[$1].macs }!
        log("timing candidates on this machine (\(request.threads) threads, batch \(request.batch), \(request.timedSteps) steps after 1 warm-up each)")
        try time(cheapest)
        // And the smallest patch of the widest ladder, which calibrates the preferred rows.
        let widest = rows.indices.filter { !rows[$0].tooLarge && rows[$0].candidate.features[0] == rows[0].candidate.features[0] }
        if let smallest = widest.min(by: { rows[$0].macs < rows[$1].macs }), !rows[smallest].timed {
            try time(smallest)
        }
        predict()
        guard fits(cheapest) else {
            var m = model
            m.validationWindows = windows(rows[cheapest].candidate.patch)
            let s = rows[cheapest].stepSeconds! + TimeModel.allreduceSeconds(parameters: rows[cheapest].parameters ?? 0, ranks: request.ranks)
            let every = rows[cheapest].validationEvery ?? TimeModel.defaultValidationEvery
            let need = m.seconds(epochs: request.minEpochs, stepSeconds: s, forwardSeconds: rows[cheapest].forwardSeconds!,
                                 validationEvery: every) / 3600
            throw PlanError.budgetTooSmall(budgetHours: request.budgetHours, minimumHours: need,
                                           network: rows[cheapest].candidate.label, minEpochs: request.minEpochs,
                                           stepSeconds: rows[cheapest].stepSeconds!)
        }
        // Then the most preferred candidate predicted to fit, until a timed one fits; then one
        // step larger than it, in case the prediction was pessimistic.
        var chosen = cheapest
        var reason = ""
        while true {
            guard let i = rows.indices.first(where: { fits($0) && !(rows[$0].timed == false && rows[$0].stepSeconds == nil) }) else { break }
            if rows[i].timed { chosen = i; break }
            if Date().timeIntervalSince(timingStart) > request.maxTimingSeconds {
                log("  timing cap of \(Int(request.maxTimingSeconds)) s reached: choosing among the timed candidates")
                chosen = rows.indices.first { rows[$0].timed && fits($0) } ?? cheapest
                reason = " (timing cap reached)"
                break
            }
            try time(i)
            predict()
        }
        // Predictions from multiply-adds are rough (narrow layers run below the machine's peak):
        // while the next preferred candidate is predicted within 2× of fitting, time it too.
        while chosen > 0, !rows[chosen - 1].timed, !rows[chosen - 1].tooLarge, Date().timeIntervalSince(timingStart) < request.maxTimingSeconds,
              let e = rows[chosen - 1].epochsFitting, Double(e) * 2 >= Double(request.minEpochs) {
            try time(chosen - 1)
            predict()
            guard fits(chosen - 1) else { break }
            chosen -= 1
        }
        let row = rows[chosen]
        let allreduce = TimeModel.allreduceSeconds(parameters: row.parameters ?? 0, ranks: request.ranks)
        var m = model
        m.validationWindows = windows(row.candidate.patch)
        let epochs = row.epochsFitting ?? request.minEpochs
        // Validation every val_every epochs and after the last: a val_every beyond the run
        // means the last epoch's validation only, written as val_every = epochs.
        let validationEvery = min(row.validationEvery ?? TimeModel.defaultValidationEvery, max(1, epochs))
        let larger = rows[..<chosen].filter { $0.stepSeconds != nil }
        reason = "the widest feature ladder, then the largest patch, whose \(request.minEpochs) epochs fit \(PlanError.hours(request.budgetHours)) h"
            + (larger.isEmpty ? (rows[..<chosen].contains(where: \.tooLarge) ? " — every larger candidate needs more memory than allowed"
                                                                                  : " — and the largest candidate of all")
                              : "; every larger candidate trains fewer epochs than that")
            + reason
        return Plan(request: request, fingerprint: fingerprint, layout: layout, targetSpacing: target, medianShape: median,
                    anisotropicAxis: aniso, trainingCases: trainingCount, validationCases: validationCount, model: m,
                    rows: rows, chosen: chosen, epochs: epochs, validationEvery: validationEvery,
                    allreduceSeconds: allreduce, reason: reason, load: load)
    }

    /// The 1-minute load average and the online cores: timings taken on a busy machine hold
    /// only while it stays as busy.
    /// 80 % of this machine's physical memory (the rest for the system and the case cache).
    public static func defaultMemoryBytes() -> Double {
        0.8 * Double(ProcessInfo.processInfo.physicalMemory)
    }

    static func loadAverage() -> (average: Double, cores: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
              let first = text.split(separator: " ").first, let value = Double(first) else { return nil }
        return (value, ProcessInfo.processInfo.activeProcessorCount)
    }

    static func distance(_ a: [Int], _ b: [Int]) -> Double {
        (0..<3).reduce(0) { $0 + abs(log(Double(max(1, a[$1])) / Double(max(1, b[$1])))) }
    }

    /// Weights and biases of the U-Net (for the allreduce model of untimed candidates).
    static func approximateParameters(_ c: Candidate, channels: Int, classes: Int) -> Int {
        var n = 0
        let f = c.features
        for l in 0..<f.count {
            let k = c.topology.kernels[l].reduce(1, *)
            let cin = l == 0 ? channels : f[l - 1]
            n += k * (cin * f[l] + f[l] * f[l]) + 6 * f[l]
            if l < f.count - 1 {
                n += c.topology.strides[l].reduce(1, *) * f[l + 1] * f[l] + f[l]
                n += k * (2 * f[l] * f[l] + f[l] * f[l]) + 6 * f[l]
            }
        }
        return n + f[0] * classes + classes
    }
}
