import Foundation

/// What the progress display shows about the running training.
public struct ProgressState: Equatable {
    public var iteration: Int
    public var totalIterations: Int
    public var epoch: Int
    public var totalEpochs: Int
    /// Mean loss of the current epoch so far.
    public var loss: Float
    public var learningRate: Float
    /// Iterations per second since this process started training (nil before the first).
    public var iterationsPerSecond: Double?

    public init(iteration: Int, totalIterations: Int, epoch: Int, totalEpochs: Int, loss: Float,
                learningRate: Float, iterationsPerSecond: Double?) {
        self.iteration = iteration
        self.totalIterations = totalIterations
        self.epoch = epoch
        self.totalEpochs = totalEpochs
        self.loss = loss
        self.learningRate = learningRate
        self.iterationsPerSecond = iterationsPerSecond
    }

    /// Seconds left at the current rate, nil when unknown.
    public var secondsRemaining: Double? {
        guard let rate = iterationsPerSecond, rate > 0, rate.isFinite else { return nil }
        return Double(max(0, totalIterations - iteration)) / rate
    }
}

/// Pure formatting of progress lines (tested on their own).
public enum ProgressFormat {
    /// Width of the bar in characters.
    public static let barWidth = 24

    /// "mm:ss" under an hour, "h:mm:ss" above, "--:--" when unknown.
    public static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "--:--" }
        let total = Int(seconds.rounded())
        let (hours, minutes, secs) = (total / 3600, (total / 60) % 60, total % 60)
        let mmss = String(format: "%02d:%02d", minutes, secs)
        return hours > 0 ? "\(hours):" + mmss : mmss
    }

    /// "2.35 it/s" at one or more iterations per second, "4.12 s/it" below (slow 3D steps).
    public static func rate(_ iterationsPerSecond: Double?) -> String {
        guard let rate = iterationsPerSecond, rate.isFinite, rate > 0 else { return "-- it/s" }
        return rate >= 1 ? String(format: "%.2f it/s", rate) : String(format: "%.2f s/it", 1 / rate)
    }

    /// "[#########---------------]" filled in proportion to `fraction` (clamped to 0…1).
    public static func bar(_ fraction: Double, width: Int = barWidth) -> String {
        let clamped = fraction.isFinite ? min(max(fraction, 0), 1) : 0
        let filled = Int((clamped * Double(width)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
    }

    static func fields(_ state: ProgressState) -> String {
        String(format: "loss %.4f lr %.3g ", Double(state.loss), Double(state.learningRate))
            + rate(state.iterationsPerSecond) + " ETA " + duration(state.secondsRemaining)
    }

    /// Steps after which dro-train states its estimate of the run's time.
    public static let estimateAfterSteps = 3

    /// "measured 2.31 s/step over the first 3 steps: about 1:02:03 for the remaining 1612
    /// iterations (validation not included)" — printed once, early, so a run that will not fit
    /// its budget is seen at once (dro-plan's header states what it expected).
    public static func startEstimate(stepSeconds: Double, remaining: Int) -> String {
        String(format: "measured %.3f s/step over the first %d steps: about ", stepSeconds, estimateAfterSteps)
            + duration(stepSeconds * Double(remaining)) + " for the remaining \(remaining) iterations (validation not included)"
    }

    /// The terminal line, redrawn in place.
    public static func barLine(_ state: ProgressState) -> String {
        let fraction = state.totalIterations > 0 ? Double(state.iteration) / Double(state.totalIterations) : 0
        return "epoch \(state.epoch)/\(state.totalEpochs) " + bar(fraction)
            + " \(state.iteration)/\(state.totalIterations) " + fields(state)
    }

    /// The line written to a log file or pipe.
    public static func plainLine(_ state: ProgressState) -> String {
        "epoch \(state.epoch)/\(state.totalEpochs) iteration \(state.iteration)/\(state.totalIterations) "
            + fields(state)
    }
}

/// Shows progress on stderr: a bar redrawn with "\r" on a terminal (at most `barInterval`
/// apart), periodic plain lines otherwise, nothing when quiet.
public final class ProgressReporter {
    public enum Mode: Equatable {
        case bar
        case lines
        case quiet
    }

    /// Minimum seconds between bar redraws: about five per second, smooth without flooding.
    public static let barInterval = 0.2
    /// Minimum seconds between plain lines (logs stay short on long runs).
    public static let lineInterval = 30.0

    public let mode: Mode
    private let write: (String) -> Void
    private var lastShown: Double = -Double.infinity
    private var barVisible = false
    private var lastBarLength = 0

    /// `write` receives exact text to emit (tests capture it; the default writes to stderr).
    public init(mode: Mode, write: @escaping (String) -> Void = ProgressReporter.standardError) {
        self.mode = mode
        self.write = write
    }

    /// Bar when stderr is a terminal, lines otherwise; quiet overrides both.
    public static func automaticMode(quiet: Bool) -> Mode {
        quiet ? .quiet : (isatty(STDERR_FILENO) != 0 ? .bar : .lines)
    }

    public static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Shows `state` if enough time has passed since the last display, or if `force`.
    public func update(_ state: ProgressState, now: Double, force: Bool = false) {
        switch mode {
        case .quiet:
            return
        case .bar:
            guard force || now - lastShown >= ProgressReporter.barInterval else { return }
            let line = ProgressFormat.barLine(state)
            // Pad with spaces so a shorter line fully covers the previous one.
            let padding = String(repeating: " ", count: max(0, lastBarLength - line.count))
            write("\r" + line + padding)
            lastBarLength = line.count
            barVisible = true
        case .lines:
            guard force || now - lastShown >= ProgressReporter.lineInterval else { return }
            write(ProgressFormat.plainLine(state) + "\n")
        }
        lastShown = now
    }

    /// An informational line (validation result, checkpoint); not shown when quiet.
    public func message(_ text: String) {
        guard mode != .quiet else { return }
        endBar()
        write(text + "\n")
    }

    /// Ends the bar's line so what follows starts on a fresh one.
    public func endBar() {
        if barVisible {
            write("\n")
            barVisible = false
            lastBarLength = 0
        }
    }
}
