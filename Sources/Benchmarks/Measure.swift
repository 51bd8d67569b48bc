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
