import CBLAS
import Dispatch

/// Data parallelism for the non-GEMM kernels (im2col, col2im, norms, elementwise passes).
///
/// GEMMs run on OpenBLAS's own threads, called from one thread at a time; the passes between
/// them run on `Parallel.forEach`. The two never overlap, so with `threads` = number of cores
/// neither oversubscribes the machine. `Parallel.configure(threads:)` sets both.
public enum Parallel {
    /// Threads used by `forEach` when the caller does not pass its own count.
    nonisolated(unsafe) public private(set) static var defaultThreads = 1

    /// Sets the thread count for both OpenBLAS GEMMs and `forEach` passes.
    public static func configure(threads: Int) {
        let n = max(1, threads)
        defaultThreads = n
        openblas_set_num_threads(Int32(n))
    }

    /// OpenBLAS's chosen kernel family (e.g. "Haswell", "Cooperlake").
    public static var blasCoreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// Runs `body(i)` for every i in 0..<count, spreading contiguous blocks of indices over
    /// `threads` workers. Runs inline when `threads` ≤ 1 or `count` ≤ 1.
    public static func forEach(count: Int, threads: Int = defaultThreads, _ body: (Int) -> Void) {
        forEach(0..<count, threads: threads) { range in
            for i in range { body(i) }
        }
    }

    /// Splits `range` into at most `threads` contiguous chunks and runs `body(chunk)` on each
    /// concurrently. Runs inline when one chunk suffices.
    public static func forEach(_ range: Range<Int>, threads: Int = defaultThreads,
                               _ body: (Range<Int>) -> Void) {
        let n = range.count
        let workers = min(max(1, threads), n)
        if workers <= 1 {
            if n > 0 { body(range) }
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { k in
                let lo = range.lowerBound + n * k / workers
                let hi = range.lowerBound + n * (k + 1) / workers
                if lo < hi { body(lo..<hi) }
            }
        }
    }

    /// Runs `body(k)` for k in 0..<workers concurrently, with OpenBLAS held at one thread meanwhile
    /// (each worker calls its own GEMMs; OpenBLAS's threads would only oversubscribe the cores).
    /// Inline, with OpenBLAS unchanged, when `workers` ≤ 1.
    public static func workersWithSerialBLAS(_ workers: Int, _ body: (Int) -> Void) {
        guard workers > 1 else {
            if workers == 1 { body(0) }
            return
        }
        let saved = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(saved) }
        forEach(count: workers, threads: workers, body)
    }
}
