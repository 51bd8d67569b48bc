import Foundation

/// Exit codes of the command-line tools.
public enum ExitStatus {
    public static let ok: Int32 = 0
    public static let failure: Int32 = 1
    /// Usage errors (sysexits.h EX_USAGE; ArgumentParser's ValidationError uses it too).
    public static let usage: Int32 = 64
}

/// Where a command writes: `out` for results, `err` for problems (one line per call).
public struct CommandOutput: Sendable {
    public var out: @Sendable (String) -> Void
    public var err: @Sendable (String) -> Void
    public init(out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void) {
        self.out = out
        self.err = err
    }

    public static let standard = CommandOutput(
        out: { print($0); fflush(stdout) },  // keep order with stderr progress when piped
        err: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
}

