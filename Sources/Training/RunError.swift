/// Errors of the training run (folder, logs, resume, divergence, interruption). Each
/// description is one line naming the file, key or iteration concerned.
public enum RunError: Error, CustomStringConvertible, Equatable {
    case io(path: String, operation: String, reason: String)
    /// An existing log whose header is not the one this version writes.
    case logHeaderMismatch(path: String, found: String, expected: String)
    /// `--resume` without a checkpoint in the output folder.
    case nothingToResume(folder: String, checkpoint: String)
    /// A fresh run pointed at a folder that already holds a run.
    case existingRun(folder: String, checkpoint: String)
    /// A checkpoint that is intact but was made by a different configuration or model.
    case incompatibleCheckpoint(path: String, reason: String)
    /// The loss became NaN or infinite.
    case nonFiniteLoss(iteration: Int, loss: Double, cases: [String], checkpoint: String?, what: String = "loss")
    /// SIGINT or SIGTERM arrived; the run saved its state and stopped.
    case interrupted(signal: Int32, iteration: Int, checkpoint: String)
    /// A training setting is out of range.
    case invalidSetting(name: String, value: String, allowed: String)
    /// A piece of the pipeline failed (batch, validation) — its own message is attached.
    case step(iteration: Int, reason: String)

    public var description: String {
        switch self {
        case let .io(path, operation, reason):
            return "run folder: cannot \(operation) \(path): \(reason)"
        case let .logHeaderMismatch(path, found, expected):
            return "log \(path): header is \"\(found)\", expected \"\(expected)\" — "
                + "the output folder holds a different run; choose another --output"
        case let .nothingToResume(folder, checkpoint):
            return "--resume: no checkpoint \(checkpoint) in output folder \(folder); "
                + "start without --resume to train from scratch"
        case let .existingRun(folder, checkpoint):
            return "output folder \(folder) already holds a run (\(checkpoint)); continue it with --resume "
                + "or choose another --output"
        case let .incompatibleCheckpoint(path, reason):
            return "checkpoint \(path): cannot resume: \(reason)"
        case let .nonFiniteLoss(iteration, loss, cases, checkpoint, what):
            let kept = checkpoint.map { "; the last good checkpoint is \($0)" } ?? "; no checkpoint was written yet"
            return "training diverged: \(what) is \(loss) at iteration \(iteration) "
                + "(batch cases: \(cases.joined(separator: ", ")))\(kept) — lower the learning rate "
                + "or check these cases"
        case let .interrupted(signal, iteration, checkpoint):
            let name = signal == SignalStop.interruptSignal ? "SIGINT" : signal == SignalStop.terminateSignal ? "SIGTERM" : "signal \(signal)"
            return "stopped by \(name) after iteration \(iteration); state saved to \(checkpoint) "
                + "(continue with --resume)"
        case let .invalidSetting(name, value, allowed):
            return "training setting \(name) is \(value); allowed: \(allowed)"
        case let .step(iteration, reason):
            return "iteration \(iteration): \(reason)"
        }
    }

    /// Process exit status: 128 + signal number for interruptions (130 SIGINT, 143 SIGTERM, the
    /// shell convention), 1 for every other failure.
    public var exitCode: Int32 {
        if case let .interrupted(signal, _, _) = self { return 128 + signal }
        return 1
    }
}
