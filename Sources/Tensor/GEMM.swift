import CBLAS

/// Row-major single-precision GEMM: C = alpha · op(A) · op(B) + beta · C, with op(A) M×K,
/// op(B) K×N, C M×N and leading dimensions in elements. A thin typed wrapper over cblas_sgemm.
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
           b: UnsafePointer<Float>, ldb: Int,
           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    cblas_sgemm(CblasRowMajor,
                transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                beta, c, Int32(ldc))
}

/// How `parallelSgemm` splits a GEMM's N columns over workers.
enum GEMMSplit {
    /// Fewest columns per worker; part boundaries fall on multiples of `granule` columns.
    static let minimumColumns = 64
    static let granule = 16
    /// Fewest multiply-adds (M·N·K) per worker: smaller parts are not worth a fork/join, and
    /// OpenBLAS 0.3.21 runs some small shapes (few columns, M of a few rows, up to ~3·10⁶
    /// multiply-adds in the whole call) through other kernels, whose sums can differ in the last bit from the same
    /// columns computed in a larger call. Above this size, and with at least `minimumColumns`
    /// columns per part, every column came out bit-identical to one single-threaded call in
    /// ~2,000 random shapes (transposes, beta 0 and 1; docs/performance.md, "OpenBLAS at one
    /// thread, our workers for every GEMM").
    static let minimumWork = 1 << 21

    /// Parts for an M×N×K GEMM on up to `threads` workers (1 = one call).
    static func parts(m: Int, n: Int, k: Int, threads: Int) -> Int {
        let byWork = m * n * max(1, k) / minimumWork
        return max(1, min(threads, n / minimumColumns, byWork))
    }

    /// First column of part `p` of `parts` (p = parts gives n).
    @inline(__always)
    static func boundary(_ p: Int, parts: Int, n: Int) -> Int {
        p >= parts ? n : n * p / parts / granule * granule
    }
}

/// `sgemm` with its N columns split over up to `threads` of our workers, each running a
/// single-threaded sgemm on its contiguous share (OpenBLAS held at one thread meanwhile). Every
/// element of C is one dot product over the whole K, computed the same way whichever part holds
/// its column, so the result equals one single-threaded call (see `GEMMSplit.minimumWork`) and
/// does not depend on `threads` or on timing. Small GEMMs run as one call. With
/// `DRO_BLAS_THREADS=openblas` it is one call on OpenBLAS's threads.
func parallelSgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                   alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                   b: UnsafePointer<Float>, ldb: Int,
                   beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                   threads: Int = Parallel.defaultThreads) {
    let parts = Parallel.blasThreading == .workers ? GEMMSplit.parts(m: m, n: n, k: k, threads: threads) : 1
    if parts <= 1 {
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
        return
    }
    Parallel.workersWithSerialBLAS(parts) { p in
        let lo = GEMMSplit.boundary(p, parts: parts, n: n), hi = GEMMSplit.boundary(p + 1, parts: parts, n: n)
        guard lo < hi else { return }
        sgemm(transA: transA, transB: transB, m: m, n: hi - lo, k: k, alpha: alpha, a: a, lda: lda,
              b: transB ? b + lo * ldb : b + lo, ldb: ldb, beta: beta, c: c + lo, ldc: ldc)
    }
}

/// Public entry for benchmarks: times of a plain square sgemm measure the machine's peak.
public enum BLAS {
    /// C[m×n] = A[m×k] · B[k×n] (row-major, overwrites C), split over `threads` workers like the
    /// layers' GEMMs (`parallelSgemm`).
    public static func matmul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                              _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int,
                              threads: Int = Parallel.defaultThreads) {
        parallelSgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, beta: 0, c: c, ldc: n, threads: threads)
    }

    /// The general row-major sgemm (C = alpha·op(A)·op(B) + beta·C), for benchmarks that time
    /// the GEMMs of a kernel on their own; split over `threads` workers as in the layers.
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                            threads: Int = Parallel.defaultThreads) {
        parallelSgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      beta: beta, c: c, ldc: ldc, threads: threads)
    }
}
