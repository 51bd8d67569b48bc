import Foundation
import Common

/// Collects a command's output lines (thread-safe), for tests that run a command function.
package final class CapturedLines: @unchecked Sendable {
    package var out: [String] = []
    package var err: [String] = []
    let lock = NSLock()
    package init() {}
    package var output: CommandOutput {
        CommandOutput(out: { [self] line in lock.lock(); out.append(line); lock.unlock() },
                      err: { [self] line in lock.lock(); err.append(line); lock.unlock() })
    }
}
