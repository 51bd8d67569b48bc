import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Opt-in split of the F(4,3) forward / input gradient's thread CPU time into its three phases
/// (input transform, component GEMMs, output transform), summed over chunks and workers, for
/// `dro-bench unet --conv-phases` (`DRO_BENCH_PHASES=winograd`). Off unless `enabled` is set;
/// then three clock reads per chunk.
public enum WinogradPhaseClock {
    static let enabled = Atomic<Bool>(false)

    /// Turns the clock on or off (for the calls that follow).
    public static func setEnabled(_ on: Bool) { enabled.store(on, ordering: .relaxed) }
    static let input = Atomic<Int>(0), gemm = Atomic<Int>(0), output = Atomic<Int>(0)

    /// Zeroes the sums.
    public static func reset() {
        input.store(0, ordering: .relaxed); gemm.store(0, ordering: .relaxed); output.store(0, ordering: .relaxed)
    }

    /// The sums since `reset`, in milliseconds of thread CPU time.
    public static func read() -> (input: Double, gemm: Double, output: Double) {
        (Double(input.load(ordering: .relaxed)) * 1e-6, Double(gemm.load(ordering: .relaxed)) * 1e-6,
         Double(output.load(ordering: .relaxed)) * 1e-6)
    }

    /// Thread CPU time in nanoseconds.
    @inline(__always)
    static func now() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }

    /// Adds one chunk's phases (clock readings t0 ≤ t1 ≤ t2 ≤ t3).
    static func add(_ t0: Int, _ t1: Int, _ t2: Int, _ t3: Int) {
        input.add(t1 - t0, ordering: .relaxed)
        gemm.add(t2 - t1, ordering: .relaxed)
        output.add(t3 - t2, ordering: .relaxed)
    }

    /// Sets `DRO_WINOGRAD_DIRECT`'s choice (off, small, all) for the calls that follow, for
    /// alternating measurements in one process; false for an unknown name.
    @discardableResult
    public static func setDirectMode(_ name: String) -> Bool {
        guard let mode = WinogradGEMM.DirectMode(rawValue: name) else { return false }
        WinogradGEMM.directSetting.store(WinogradGEMM.DirectMode.allCases.firstIndex(of: mode)!, ordering: .relaxed)
        return true
    }
}
