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
