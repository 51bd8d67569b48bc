import CBLAS
import Dispatch

/// Data parallelism for every kernel, GEMMs included.
///
/// By default OpenBLAS is held at one thread for the whole process and every GEMM large enough to
/// be worth splitting is split over our own workers (`parallelSgemm`: each worker one
/// single-threaded sgemm on its share of the columns), like the passes between GEMMs
/// (`Parallel.forEach`). OpenBLAS's own pool is then never handed work, so it never spin-waits
/// (`sched_yield`, up to OPENBLAS_THREAD_TIMEOUT cycles after each threaded GEMM) on a core our
/// workers want. `DRO_BLAS_THREADS=openblas` restores the former split of labour (GEMMs on
/// OpenBLAS's threads, called from one thread at a time) for comparison; see `BLASThreading`.
public enum Parallel {
    /// Threads used by `forEach` (and split GEMMs) when the caller does not pass its own count.
    nonisolated(unsafe) public private(set) static var defaultThreads = 1

    /// Who runs the GEMMs in parallel: read once from `DRO_BLAS_THREADS` ("openblas" → OpenBLAS's
    /// threads; unset, empty or anything else → our workers). Settable by tests only.
    nonisolated(unsafe) public internal(set) static var blasThreading: BLASThreading =
        BLASThreading(environment: BLASRuntime.environment(BLASThreading.variable))

    /// Sets the thread count of our workers and OpenBLAS's: `threads` for both with
    /// `DRO_BLAS_THREADS=openblas`, else one for OpenBLAS (GEMMs are split over our workers).
    public static func configure(threads: Int) {
        let n = max(1, threads)
        defaultThreads = n
        openblas_set_num_threads(blasThreading == .openBLAS ? Int32(n) : 1)
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

    /// OpenBLAS's current thread count (tests).
    static var blasThreadCount: Int { Int(openblas_get_num_threads()) }

    /// Runs `body` with OpenBLAS at one thread, restoring its count after (tests' references).
    static func withSerialBLAS<R>(_ body: () throws -> R) rethrows -> R {
        let saved = openblas_get_num_threads()
        if saved != 1 { openblas_set_num_threads(1) }
        defer { if saved != 1 { openblas_set_num_threads(saved) } }
        return try body()
    }

    /// Runs `body(k)` for k in 0..<workers concurrently, with OpenBLAS held at one thread meanwhile
    /// (each worker calls its own GEMMs; OpenBLAS's threads would only oversubscribe the cores).
    /// Inline, with OpenBLAS unchanged, when `workers` ≤ 1. OpenBLAS's thread count is left
    /// alone when it is already one (the default `BLASThreading.workers` after `configure`).
    public static func workersWithSerialBLAS(_ workers: Int, _ body: (Int) -> Void) {
        guard workers > 1 else {
            if workers == 1 { body(0) }
            return
        }
        let saved = openblas_get_num_threads()
        if saved != 1 { openblas_set_num_threads(1) }
        defer { if saved != 1 { openblas_set_num_threads(saved) } }
        forEach(count: workers, threads: workers, body)
    }
}

/// Who parallelises the GEMMs (`Parallel.blasThreading`, from `DRO_BLAS_THREADS`).
public enum BLASThreading: String, Sendable {
    /// OpenBLAS at one thread for the whole process; GEMMs split over our workers (default).
    case workers
    /// OpenBLAS's own threads run each GEMM, as before this switch existed (`DRO_BLAS_THREADS=openblas`).
    case openBLAS = "openblas"

    /// The environment variable selecting the mode.
    public static let variable = "DRO_BLAS_THREADS"

    init(environment value: String?) {
        self = value?.lowercased() == BLASThreading.openBLAS.rawValue ? .openBLAS : .workers
    }

    /// One phrase for benchmark headers.
    public var description: String {
        switch self {
        case .workers: return "GEMMs split over our workers (OpenBLAS at 1 thread)"
        case .openBLAS: return "GEMMs on OpenBLAS threads (\(BLASThreading.variable)=openblas)"
        }
    }
}

extension Parallel {
    /// Weight (and bias) gradients summed by `workers` workers: worker k runs `body(k, partial)`
    /// on its own zeroed Double partials [weights: 0..<weights | bias: weights..<weights + bias];
    /// then dw[i] += Σ_k partial_k[i] and dbias[c] += Σ_k partial_k[weights + c] in worker order,
    /// so a fixed worker count and work split give bit-identical results run to run.
    static func sumWorkerPartials(workers: Int, weights wn: Int, bias bn: Int, dw: UnsafeMutablePointer<Float>,
                                  dbias: UnsafeMutablePointer<Float>?,
                                  _ body: (Int, UnsafeMutablePointer<Double>) -> Void) {
        let per = wn + bn
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: workers * per)
        partial.initialize(repeating: 0, count: workers * per)
        defer { partial.deallocate() }
        forEach(0..<workers, threads: workers) { ks in
            for k in ks { body(k, partial + k * per) }
        }
        for i in 0..<wn {
            var s = 0.0
            for k in 0..<workers { s += partial[k * per + i] }
            dw[i] += Float(s)
        }
        if let dbias {
            for c in 0..<bn {
                var s = 0.0
                for k in 0..<workers { s += partial[k * per + wn + c] }
                dbias[c] += Float(s)
            }
        }
    }
}
