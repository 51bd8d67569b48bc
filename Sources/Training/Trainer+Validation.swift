import Cluster
import Common
import Config
import Foundation
import Model
import Sampling

/// End of an epoch: validation split across ranks, the best checkpoint, early stopping.
extension Trainer {
    /// Validations at epochs in (bestEpoch, epoch] (validation epochs: multiples of
    /// `validateEvery`, and the last epoch).
    func validationsWithoutImprovement(atEpoch epoch: Int) -> Int {
        guard progress.bestEpoch > 0, epoch > progress.bestEpoch else { return 0 }
        return (progress.bestEpoch + 1 ... epoch).filter { $0 % settings.validateEvery == 0 || $0 == settings.epochs }.count
    }

    /// Early stopping is on and `patience` validations since the best one brought no improvement.
    /// A function of the progress alone (the same on every rank, and after a resume).
    func plateaued(atEpoch epoch: Int) -> Bool {
        guard let patience = settings.patience, progress.bestMetric != nil else { return false }
        return validationsWithoutImprovement(atEpoch: epoch) >= patience
    }

    /// Epoch end: sampler state to sampler.csv; validation (every K epochs and after the last),
    /// val.csv and the best checkpoint (by `settings.monitor`). Returns true when training should
    /// stop early (`settings.patience`), decided from the rows every rank holds.
    func finishEpoch(_ epoch: Int, logs: RunLogs?) throws -> Bool {
        try logs?.logSampler(epoch: epoch, rows: sampler.snapshot().enumerated().map { index, entry in
            SamplerRow(index: index, caseName: caseNames[index], group: caseGroups[index],
                       staleLoss: entry.staleLoss, probability: entry.probability, draws: entry.draws)
        })
        guard epoch % settings.validateEvery == 0 || epoch == settings.epochs else { return false }
        let rows: [ValidationRow]
        if communicator.size == 1 {
            do {
                rows = try validator.validate(model)
            } catch {
                throw RunError.step(iteration: progress.iteration, reason: "validation: \(error)")
            }
        } else {
            rows = try validateAcrossRanks()
        }
        guard !rows.isEmpty else { return false }
        try logs?.logValidation(epoch: epoch, rows: rows)
        let foreground = rows.filter { $0.label > 0 && !$0.dice.isNaN }.map(\.dice)
        let meanDice = foreground.isEmpty ? nil : foreground.reduce(0, +) / Double(foreground.count)
        // One loss per case (each of its rows carries it), summed in case order: the same
        // floating-point sum on every rank, so every rank takes the same decisions.
        var seen = Set<String>()
        var caseLosses: [Double] = []
        for row in rows where !row.loss.isNaN && seen.insert(row.caseName).inserted { caseLosses.append(row.loss) }
        let meanLoss = caseLosses.isEmpty ? nil : caseLosses.reduce(0, +) / Double(caseLosses.count)
        let value: Double?
        switch settings.monitor {
        case .dice: value = meanDice
        case .loss: value = meanLoss
        }
        guard let value else { return false }
        let improved = progress.bestMetric.map { settings.monitor == .dice ? value > $0 : value < $0 } ?? true
        if improved {
            progress.bestMetric = value
            progress.bestEpoch = epoch
            if communicator.isRoot { try makeCheckpoint().write(to: run.bestCheckpointPath) }
        }
        var text = "epoch \(epoch): validation mean foreground Dice " + (meanDice.map { String(format: "%.4f", $0) } ?? "n/a")
        if let meanLoss { text += ", loss " + String(format: "%.4f", meanLoss) }
        reporter.message(text + (improved ? " (best \(settings.monitor.rawValue), saved)" : ""))
        return plateaued(atEpoch: epoch) && epoch < settings.epochs
    }

    /// Validation case i on rank i % R; every rank gets every row, in case order, so every rank
    /// takes the same best-checkpoint decision.
    func validateAcrossRanks() throws -> [ValidationRow] {
        let mine = try communicator.collectively {
            do {
                return try validator.validate(model, shard: communicator.rank, of: communicator.size)
            } catch {
                throw RunError.step(iteration: progress.iteration, reason: "validation: \(error)")
            }
        }
        var writer = ByteWriter()
        writer.append(mine.count)
        for (caseIndex, rows) in mine {
            writer.append(caseIndex)
            writer.append(rows.count)
            for row in rows {
                writer.append(row.caseName)
                writer.append(row.label)
                writer.append(row.labelName)
                writer.append(row.dice)
                writer.append(row.loss)
            }
        }
        var all: [(caseIndex: Int, rows: [ValidationRow])] = []
        for (rank, bytes) in communicator.allgather(bytes: writer.bytes).enumerated() {
            var reader = ByteReader(bytes, failure: { ClusterError.disagreement("validation rows of rank \(rank): \($0)") })
            for _ in 0..<(try reader.int("cases")) {
                let caseIndex = try reader.int("case index")
                var rows: [ValidationRow] = []
                for _ in 0..<(try reader.int("rows")) {
                    rows.append(ValidationRow(caseName: try reader.string("case"), label: try reader.int("label"),
                                              labelName: try reader.string("label name"), dice: try reader.double("dice"),
                                              loss: try reader.double("loss")))
                }
                all.append((caseIndex, rows))
            }
        }
        return all.sorted { $0.caseIndex < $1.caseIndex }.flatMap(\.rows)
    }
}
