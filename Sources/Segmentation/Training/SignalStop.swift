import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The signal number caught by the async-signal-safe handler (0 = none yet). A C signal handler
/// cannot capture context, so it writes here; `SignalStop.signal` moves it under its lock.
private let caughtSignal: UnsafeMutablePointer<sig_atomic_t> = {
    let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
    p.initialize(to: 0)
    return p
}()

/// Turns SIGINT and SIGTERM into a flag the training loop polls between iterations, so a stop
/// request finishes the current iteration, saves a checkpoint and exits 130 / 143 instead of
/// dying mid-write. The handler is installed with `sigaction` before `start()` returns, so a
/// signal that arrives right after `start()` is never lost (dispatch signal sources register
/// asynchronously and would drop it). The handler only stores the first signal number, which is
/// async-signal-safe; the default disposition is restored by `stop()`.
public final class SignalStop: @unchecked Sendable {
    public static let interruptSignal = SIGINT
    public static let terminateSignal = SIGTERM

    private let lock = NSLock()
    private var received: Int32?

    public init() {}

    /// The first stop signal received, if any.
    public var signal: Int32? {
        lock.lock()
        defer { lock.unlock() }
        if received == nil, caughtSignal.pointee != 0 { received = Int32(caughtSignal.pointee) }
        return received
    }

    /// Records a stop request (also used by tests and by callers that stop for other reasons).
    public func request(_ signal: Int32) {
        lock.lock()
        if received == nil { received = signal }
        lock.unlock()
    }

    /// Starts catching SIGINT and SIGTERM.
    public func start() {
        caughtSignal.pointee = 0
        for number in [SignalStop.interruptSignal, SignalStop.terminateSignal] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                if caughtSignal.pointee == 0 { caughtSignal.pointee = sig_atomic_t(number) }
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(number, &action, nil)
        }
    }

    /// Stops catching; the signals get their default action back.
    public func stop() {
        Glibc.signal(SignalStop.interruptSignal, SIG_DFL)
        Glibc.signal(SignalStop.terminateSignal, SIG_DFL)
    }

    deinit { stop() }
}
