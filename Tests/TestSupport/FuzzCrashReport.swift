#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import XCTest

/// What a mutation fuzzer is reading right now, kept where a signal handler can print it: a
/// trap (Swift's checked arithmetic, bounds, precondition → SIGILL/SIGTRAP), a bad access
/// (SIGSEGV/SIGBUS) or an abort ends the test process before any XCTest message, so the seed,
/// the mutation number and the mutated bytes are written to stderr from the handler, with
/// write(2) only (async-signal-safe), and the signal is then re-raised with its default action.
package enum FuzzCrashReport {
    /// Hex dump buffer: room for a 256 KiB input (the fuzz inputs are ~1–60 KiB; a longer one
    /// is dumped up to this size).
    static let capacity = 1 << 18
    nonisolated(unsafe) static var bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    nonisolated(unsafe) static var count = 0
    /// "seed S mutation I kind K file F" as C bytes, prepared outside the handler.
    nonisolated(unsafe) static var label = UnsafeMutablePointer<CChar>.allocate(capacity: 512)
    nonisolated(unsafe) static var installed = false

    package static let signals: [Int32] = [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGABRT]

    /// Installs the handler (once per process). The handler stays for the rest of the process,
    /// so the recorded input is cleared when each test starts and after each input: a trap in a
    /// later, non-fuzz test reports "no fuzz input", never the last input of an earlier test.
    package static func install() {
        guard !installed else { return }
        installed = true
        reset()
        XCTestObservationCenter.shared.addTestObserver(ResetPerTest())
        for s in signals {
            signal(s) { sig in
                FuzzCrashReport.emit(sig)
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
    }

    /// Records the input about to be read (called before every read).
    package static func set(label text: String, bytes input: [UInt8]) {
        caseStarted = Date().timeIntervalSinceReferenceDate
        let n = min(input.count, capacity)
        input.withUnsafeBufferPointer { bytes.update(from: $0.baseAddress!, count: n) }
        count = n
        let utf8 = Array(text.utf8.prefix(510))
        for (k, c) in utf8.enumerated() { label[k] = CChar(bitPattern: c) }
        label[utf8.count] = 0
    }

    /// Line buffer of the handler (preallocated: no allocation inside a signal handler).
    nonisolated(unsafe) static var line = UnsafeMutablePointer<UInt8>.allocate(capacity: 80)

    /// The handler's body: a header line, then the bytes as hex, 32 per line.
    static func emit(_ sig: Int32) {
        put("\nmutation fuzz: signal ")
        putNumber(Int(sig))
        guard label[0] != 0 else {
            put(" outside any fuzz input (none recorded in this test since its start or its last input)\n")
            return
        }
        put(" while reading ")
        _ = write(2, label, strlen(label))
        put("\nmutated bytes (hex), count ")
        putNumber(count)
        put(":\n")
        let hex: StaticString = "0123456789abcdef"
        var k = 0
        while k < count {
            var n = 0
            for j in k..<min(k + 32, count) {
                line[n] = hex.utf8Start[Int(bytes[j] >> 4)]
                line[n + 1] = hex.utf8Start[Int(bytes[j] & 15)]
                n += 2
            }
            line[n] = 10
            _ = write(2, line, n + 1)
            k += 32
        }
    }

    private static func put(_ s: StaticString) { _ = write(2, s.utf8Start, s.utf8CodeUnitCount) }

    /// Decimal digits of a non-negative value, written from the end of the line buffer.
    private static func putNumber(_ value: Int) {
        var v = value, n = 0
        repeat { line[79 - n] = UInt8(48 + v % 10); v /= 10; n += 1 } while v > 0
        _ = write(2, line + 80 - n, n)
    }

    /// The same report as text, for an ordinary (non-crashing) test failure.
    package static func describe(label: String, bytes input: [UInt8]) -> String {
        let hex = input.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        let lines = stride(from: 0, to: hex.count, by: 32).map { hex[$0..<min($0 + 32, hex.count)].joined() }
        return "while reading \(label)\nmutated bytes (hex), count \(input.count):\n" + lines.joined(separator: "\n")
    }

    /// When the current input's read started (seconds since the reference date); the watchdog
    /// compares it with the clock.
    nonisolated(unsafe) static var caseStarted = 0.0
    nonisolated(unsafe) static var watchdogRunning = false

    /// A thread that aborts the process — printing the input through the SIGABRT handler — when
    /// one input has been read for longer than `limit` seconds: a hang becomes a report.
    package static func startWatchdog(limit: Double) {
        guard !watchdogRunning else { return }
        watchdogRunning = true
        let thread = Thread {
            while true {
                Thread.sleep(forTimeInterval: 0.5)
                let started = caseStarted
                if started > 0, Date().timeIntervalSinceReferenceDate - started > limit {
                    put("\nmutation fuzz: one input took longer than the time bound (hang)")
                    abort()
                }
            }
        }
        thread.start()
    }

    /// Marks the end of the current input's read: the watchdog stops timing it and the handler
    /// no longer reports it.
    package static func finished() {
        caseStarted = 0
        label[0] = 0
        count = 0
    }

    /// The label the handler would print now ("" when none).
    package static var recordedLabel: String { String(cString: label) }

    /// Forgets any recorded input.
    package static func reset() { finished() }

    /// Clears the recorded input at every test's start and end.
    package final class ResetPerTest: NSObject, XCTestObservation {
        package override init() {}
        package func testCaseWillStart(_ testCase: XCTestCase) { FuzzCrashReport.reset() }
        package func testCaseDidFinish(_ testCase: XCTestCase) { FuzzCrashReport.reset() }
    }
}
