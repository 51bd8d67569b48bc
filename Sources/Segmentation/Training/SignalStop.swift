import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT and SIGTERM into a flag the training loop polls between iterations, so a stop
/// request finishes the current iteration, saves a checkpoint and exits 130 / 143 instead of
/// dying mid-write. Uses dispatch signal sources (the handler runs on a queue, not in signal
/// context, so taking a lock is safe); the default disposition is restored by `stop()`.
public final class SignalStop: @unchecked Sendable {
    public static let interruptSignal = SIGINT
    public static let terminateSignal = SIGTERM

    private let lock = NSLock()
    private var received: Int32?
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "dro-seg.signals")

    public init() {}

    /// The first stop signal received, if any.
    public var signal: Int32? {
        lock.lock()
        defer { lock.unlock() }
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
        for number in [SignalStop.interruptSignal, SignalStop.terminateSignal] {
            Glibc.signal(number, SIG_IGN)  // dispatch sources need the default action disabled
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [weak self] in self?.request(number) }
            source.resume()
            sources.append(source)
        }
    }

    /// Stops catching; the signals get their default action back.
    public func stop() {
        for source in sources { source.cancel() }
        sources.removeAll()
        Glibc.signal(SignalStop.interruptSignal, SIG_DFL)
        Glibc.signal(SignalStop.terminateSignal, SIG_DFL)
    }

    deinit { stop() }
}
