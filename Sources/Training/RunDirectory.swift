import Foundation

/// The output folder of one training run:
/// ```
/// config.resolved.yaml     the configuration after defaults, as the caller resolved it
/// checkpoint_latest.ckpt   written every `checkpointEvery` iterations and at each epoch end
/// checkpoint_best.ckpt     the checkpoint with the best validation result (`training.monitor`)
/// train_log.csv            one row per iteration (loss, lr, cases, their losses and weights;
///                          wall times: cumulative `seconds`, and `data_seconds` of the batch
///                          building within `step_seconds` of the whole step)
/// val.csv                  one row per (validation epoch, case, label): Dice of the label and
///                          the case's validation loss (the same on each of its rows)
/// sampler.csv              one row per (epoch, training case): the sampler's state
/// cache/                   preprocessed cases that did not stay in memory (`data.cache`)
/// *.png                    plots of the above
/// ```
public struct RunDirectory {
    public let path: String

    public static let configName = "config.resolved.yaml"
    public static let latestCheckpointName = "checkpoint_latest.ckpt"
    public static let bestCheckpointName = "checkpoint_best.ckpt"
    public static let trainLogName = "train_log.csv"
    public static let validationLogName = "val.csv"
    public static let samplerLogName = "sampler.csv"
    /// Preprocessed cases kept on disk (`data.cache: disk`, or `auto` beyond the memory budget).
    public static let cacheFolderName = "cache"

    public static let trainLogHeader = ["iteration", "epoch", "loss", "lr", "grad_norm", "seconds",
                                        "cases", "case_losses", "case_weights", "data_seconds", "step_seconds"]
    public static let validationLogHeader = ["epoch", "case", "label", "name", "dice", "loss"]
    public static let samplerLogHeader = ["epoch", "index", "case", "group", "stale_loss", "probability", "draws"]

    /// Creates the folder (and parents) if needed.
    public init(path: String) throws {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw RunError.io(path: path, operation: "create output folder", reason: error.localizedDescription)
        }
        // A folder that cannot take files is found now, before any case is loaded.
        let probe = file(".dro-train-probe-\(getpid())")
        guard FileManager.default.createFile(atPath: probe, contents: Data()) else {
            throw RunError.io(path: path, operation: "create files in the output folder",
                              reason: String(cString: strerror(errno)).lowercased())
        }
        unlink(probe)
    }

    public func file(_ name: String) -> String { path + "/" + name }
    public var latestCheckpointPath: String { file(RunDirectory.latestCheckpointName) }
    public var bestCheckpointPath: String { file(RunDirectory.bestCheckpointName) }

    /// Writes the resolved configuration text.
    public func writeConfig(_ yaml: String) throws {
        do {
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: file(RunDirectory.configName)), options: .atomic)
        } catch {
            throw RunError.io(path: file(RunDirectory.configName), operation: "write", reason: error.localizedDescription)
        }
    }

    /// Opens the three logs. For a fresh run (`resume == nil`) they are created anew; for a
    /// resumed run rows after the checkpoint's iteration / completed epoch are dropped.
    public func openLogs(resume: ResumePoint?) throws -> RunLogs {
        RunLogs(
            train: try CSVLog(path: file(RunDirectory.trainLogName), header: RunDirectory.trainLogHeader,
                              keepThrough: resume?.iteration),
            validation: try CSVLog(path: file(RunDirectory.validationLogName), header: RunDirectory.validationLogHeader,
                                   keepThrough: resume?.epochsCompleted),
            sampler: try CSVLog(path: file(RunDirectory.samplerLogName), header: RunDirectory.samplerLogHeader,
                                keepThrough: resume?.epochsCompleted))
    }
}

/// Where a resumed run continues: iterations and epochs already completed.
public struct ResumePoint: Equatable {
    public var iteration: Int
    public var epochsCompleted: Int

    public init(iteration: Int, epochsCompleted: Int) {
        self.iteration = iteration
        self.epochsCompleted = epochsCompleted
    }
}

/// The run's three CSV logs and the row formats written to them.
public struct RunLogs {
    public let train: CSVLog
    public let validation: CSVLog
    public let sampler: CSVLog

    public func logIteration(_ record: IterationRecord) throws {
        try train.append([
            String(record.iteration), String(record.epoch), String(record.loss), String(record.learningRate),
            String(record.gradientNorm), RunLogs.fixed(record.seconds, digits: 3),
            record.cases.joined(separator: ";"),
            record.caseLosses.map { String($0) }.joined(separator: ";"),
            record.caseWeights.map { String($0) }.joined(separator: ";"),
            RunLogs.fixed(record.dataSeconds, digits: 5), RunLogs.fixed(record.stepSeconds, digits: 5),
        ])
    }

    public func logValidation(epoch: Int, rows: [ValidationRow]) throws {
        for row in rows {
            try validation.append([String(epoch), row.caseName, String(row.label), row.labelName, String(row.dice),
                                   String(row.loss)])
        }
    }

    public func logSampler(epoch: Int, rows: [SamplerRow]) throws {
        for row in rows {
            try sampler.append([String(epoch), String(row.index), row.caseName, row.group,
                                String(row.staleLoss), String(row.probability), String(row.draws)])
        }
    }

    /// `value` with a fixed number of decimals (for wall times; losses keep full precision).
    static func fixed(_ value: Double, digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }
}

/// What one iteration did, as logged to train_log.csv.
public struct IterationRecord: Equatable {
    public var iteration: Int
    public var epoch: Int
    public var loss: Double
    public var learningRate: Float
    public var gradientNorm: Float
    public var seconds: Double
    public var cases: [String]
    public var caseLosses: [Double]
    public var caseWeights: [Double]
    /// Seconds spent building this iteration's batch (patch placement, cut and augmentation).
    public var dataSeconds: Double = 0
    /// Seconds of the whole iteration: draw, batch, forward, loss, backward, clip, optimizer step
    /// (validation and checkpoints excluded); `dataSeconds` is part of it.
    public var stepSeconds: Double = 0
}

/// Dice of one label of one validation case.
public struct ValidationRow: Equatable {
    public var caseName: String
    public var label: Int
    public var labelName: String
    public var dice: Double
    /// The case's validation loss (nan when the validator computes none).
    public var loss: Double

    public init(caseName: String, label: Int, labelName: String, dice: Double, loss: Double = .nan) {
        self.caseName = caseName
        self.label = label
        self.labelName = labelName
        self.dice = dice
        self.loss = loss
    }
}

/// The sampler's view of one training case at an epoch end.
public struct SamplerRow: Equatable {
    public var index: Int
    public var caseName: String
    public var group: String
    public var staleLoss: Double
    public var probability: Double
    public var draws: Int

    public init(index: Int, caseName: String, group: String, staleLoss: Double, probability: Double, draws: Int) {
        self.index = index
        self.caseName = caseName
        self.group = group
        self.staleLoss = staleLoss
        self.probability = probability
        self.draws = draws
    }
}
