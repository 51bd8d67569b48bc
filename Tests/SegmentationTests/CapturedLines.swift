import Foundation
@testable import Segmentation

/// Collects a command's output lines (thread-safe), for tests that run a command function.
final class CapturedLines: @unchecked Sendable {
    var out: [String] = []
    var err: [String] = []
    let lock = NSLock()
    var output: CommandOutput {
        CommandOutput(out: { [self] line in lock.lock(); out.append(line); lock.unlock() },
                      err: { [self] line in lock.lock(); err.append(line); lock.unlock() })
    }
}
