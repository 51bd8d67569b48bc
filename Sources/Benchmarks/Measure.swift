import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Measurement helpers shared by every benchmark.

/// Median of the samples (mean of the middle two for an even count); nan when empty.
func median(_ samples: [Double]) -> Double {
    let s = samples.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Peak resident set size of this process in MB (getrusage; Linux reports ru_maxrss in KiB).
func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Runs a Python reference script (`python script args…`) and returns the JSON object it prints
/// on stdout; nil when the interpreter or the script is missing, it fails, or prints no object.
/// Reference runs are optional: a benchmark reports its own figures alone when this is nil.
func runReferenceScript(python: String, script: String, arguments: [String]) -> [String: Any]? {
    guard FileManager.default.fileExists(atPath: script) else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [python, script] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
}

/// Seconds on the calling thread's CPU clock (`cpu`) or the wall clock. The thread's CPU time is
/// the work of a single-threaded measurement without the time other jobs held the core.
func benchSeconds(cpu: Bool) -> Double {
    guard cpu else { return Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
