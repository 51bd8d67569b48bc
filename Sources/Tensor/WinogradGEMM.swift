import CBLAS
import Synchronization
import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// The 64 (F(2,3)) or 216 (F(4,3)) small GEMMs of one Winograd chunk (M = Cout, K = Cin of
/// 16–512, N = 36–130 tiles), on OpenBLAS or on this package's C kernels
/// (CKernels/winograd_gemm*.c), which skip OpenBLAS's per-call packing and beta pass and handle
/// all components in one call.
///
/// Which is faster depends on OpenBLAS's kernel family, the direction and the shape (kernel
/// rates and the layers' times: docs/performance.md, "Winograd GEMM kernels", "2026-12-03
/// (evening)" and "Winograd component GEMMs with weights packed once (2026-12-03 (late))"):
/// - against OpenBLAS Haswell (AVX2) ours (AVX2) is faster in all three directions;
/// - with AVX-512, the forward and input gradient for M = Cout ≥ `packedMinimumRows` (64) run a kernel
///   that reads the transformed weights packed once per call (`prepareWeights`: panels of 8 rows,
///   k-major, in place) and copies each K × ≤ 48 block of the tiles into an L1 panel, where
///   OpenBLAS (SkylakeX/Cooperlake) repacks both operands on every one of the 64 / 216 calls per
///   chunk; it beats those calls at the M ≥ 64 shapes of the networks. Below M = 64 the panel
///   copy cost as much as it saved (M = 32: four panels per copy), and the direct kernel runs
///   (`directMode`: packed weights, the tiles loaded where the transform left them, the next
///   component prefetched; 0.83–0.85× OpenBLAS's time at the fetal 96³ shapes, "The 96³ F(4,3)
///   layers' forward and input gradient (2026-12-04)"); with `DRO_WINOGRAD_DIRECT=off` OpenBLAS
///   (or ours with AVX2) runs there as before. Ours without packing (8 × 32 blocks) was level
///   with OpenBLAS's Cooperlake kernels and runs only when requested (with the direct mode off);
/// - the weight gradient's AVX-512 kernel works with outer products (dU rows as vectors along
///   Cin, one transpose of D per component, no lane reductions) in register blocks of up to 4
///   vectors × 6 rows broadcasting P in place (`weightBlocks`) and prefetches the next
///   component's operands.
/// So the automatic choice (`automatic`, `automaticWeight`) is ours with AVX-512 when the CPU has
/// it (forward and input gradient: `automatic(rows:)`); else ours with AVX2
/// when the CPU has AVX2 + FMA and OpenBLAS runs neither of its AVX-512 kernel families; OpenBLAS
/// otherwise. DRO_PORTABLE_KERNELS=1 gives OpenBLAS in all three.
/// `DRO_WINOGRAD_GEMM=blas|avx2|avx512` overrides all three directions, and
/// `DRO_WINOGRAD_GEMM_WEIGHT` (same values) the weight gradient alone, taking precedence (for
/// measurements; a kernel the CPU lacks falls back to OpenBLAS).
enum WinogradGEMM {
    enum Kernel: String, CaseIterable, Sendable {
        case blas, avx2, avx512
    }

    /// Environment variable that overrides the automatic choice (all directions).
    static let overrideVariable = "DRO_WINOGRAD_GEMM"
    /// Environment variable that overrides the weight gradient's choice (before `overrideVariable`).
    static let weightOverrideVariable = "DRO_WINOGRAD_GEMM_WEIGHT"
    /// OpenBLAS 0.3.x kernel families with AVX-512 small-matrix GEMM kernels (dynamic.c names).
    static let avx512BLASCores: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]

    private static func requested(_ variable: String) -> Kernel? {
        getenv(variable).flatMap { Kernel(rawValue: String(cString: $0)) }
    }

    /// The kernel of the forward and input-gradient GEMMs in this process (for most shapes: see
    /// `automatic(rows:)`).
    static let automatic: Kernel = {
        choose(requested: requested(overrideVariable), avx2FMA: CPUFeatures.avx2FMA, avx512: CPUFeatures.avx512,
               blasCore: BLASRuntime.coreName)
    }()

    /// The automatic forward / input-gradient kernel of a pass with M = `rows` (`chooseForRows`).
    static func automatic(rows: Int) -> Kernel {
        chooseForRows(rows, automatic: automatic, requested: requestedForward != nil,
                      fallback: choose(requested: nil, avx2FMA: CPUFeatures.avx2FMA, avx512: false,
                                       blasCore: BLASRuntime.coreName),
                      direct: usesDirect(cout: rows))
    }

    private static let requestedForward = requested(overrideVariable)

    /// The per-shape rule: an explicit request (`DRO_WINOGRAD_GEMM`) or a non-AVX-512 choice
    /// stands; the automatic `.avx512` runs from M = `packedMinimumRows` rows on (packed weights)
    /// and gives way to `fallback` below (OpenBLAS on SkylakeX/Cooperlake, ours with AVX2 on older
    /// OpenBLAS kernels): at M = 32 the packed kernel lost to OpenBLAS's small-matrix path in the
    /// 96³ fetal layers (K = 32–64, 48 tiles per chunk), and the unpacked one was not measurably
    /// faster than OpenBLAS at M = 16 (docs/performance.md, "Winograd component GEMMs with
    /// weights packed once").
    /// `direct`: the pass runs the direct kernel (`usesDirect`), which keeps `.avx512` below
    /// `packedMinimumRows` too.
    static func chooseForRows(_ rows: Int, automatic: Kernel, requested: Bool, fallback: Kernel,
                              direct: Bool = false) -> Kernel {
        guard automatic == .avx512, !requested, rows < packedMinimumRows, !direct else { return automatic }
        return fallback
    }

    /// The kernel of the weight-gradient GEMMs in this process.
    static let automaticWeight: Kernel = {
        chooseWeight(requested: requested(weightOverrideVariable) ?? requested(overrideVariable),
                     avx2FMA: CPUFeatures.avx2FMA, avx512: CPUFeatures.avx512, blasCore: BLASRuntime.coreName)
    }()

    /// The forward / input-gradient rule (see the type's comment); `requested` wins when the CPU
    /// supports it.
    static func choose(requested: Kernel?, avx2FMA: Bool, avx512: Bool, blasCore: String) -> Kernel {
        if let requested { return isSupported(requested, avx2FMA: avx2FMA, avx512: avx512) ? requested : .blas }
        if avx512 { return .avx512 }
        return avx2FMA && !avx512BLASCores.contains(blasCore.lowercased()) ? .avx2 : .blas
    }

    /// The weight-gradient rule: the same as the forward's (both prefer ours with AVX-512).
    static func chooseWeight(requested: Kernel?, avx2FMA: Bool, avx512: Bool, blasCore: String) -> Kernel {
        choose(requested: requested, avx2FMA: avx2FMA, avx512: avx512, blasCore: blasCore)
    }

    /// Fewest rows (M = Cout of the pass) for which the AVX-512 forward reads packed weights (and
    /// is chosen automatically): with fewer than 8 panels of 8 rows per copied tile block, and
    /// K = 32 per panel, the copy and the stores weigh too much (M = 32 lost to OpenBLAS in the
    /// 96³ fetal layers); from M = 64 on it was faster (docs/performance.md, "Winograd component
    /// GEMMs with weights packed once").
    /// `DRO_WINOGRAD_PACKED_ROWS=n` lowers (or raises) it, e.g. to 1 with `DRO_WINOGRAD_GEMM=avx512`
    /// to run every layer of a small network (the PyTorch cross-check's) on the packed kernel.
    static let packedMinimumRows: Int = getenv(packedRowsVariable).flatMap { Int(String(cString: $0)) } ?? 64

    /// Environment variable that sets `packedMinimumRows` (for checks and measurements).
    static let packedRowsVariable = "DRO_WINOGRAD_PACKED_ROWS"

    /// Whether `forward(kernel, …)` with M = `cout` reads weights packed by `prepareWeights`.
    static func readsPackedWeights(_ kernel: Kernel, cout: Int) -> Bool {
        kernel == .avx512 && (cout >= packedMinimumRows || usesDirect(cout: cout))
    }

    /// Which AVX-512 forward / input-gradient passes run the direct kernel
    /// (CKernels/winograd_gemm_direct_avx512.c: packed weights, the tiles loaded from the chunk
    /// buffer with the next component prefetched, no L1 panel copy) — `DRO_WINOGRAD_DIRECT`:
    /// `small` (default): M < `packedMinimumRows`, where OpenBLAS ran before (the 96³ fetal layers,
    /// M = 32); `all`: every M; `off`: none (OpenBLAS below `packedMinimumRows`, the packed kernel
    /// from there on, as before). docs/performance.md, "The 96³ F(4,3) layers' forward and input
    /// gradient (2026-12-04)".
    enum DirectMode: String, CaseIterable, Sendable { case off, small, all }

    /// Environment variable that sets `directMode`.
    static let directVariable = "DRO_WINOGRAD_DIRECT"

    /// `directMode` as an index into `DirectMode.allCases`: read from the environment, changed
    /// between calls only by `WinogradPhaseClock.setDirectMode` (dro-bench's same-process pairs).
    static let directSetting = Atomic<Int>(
        DirectMode.allCases.firstIndex(of: getenv(directVariable).flatMap { DirectMode(rawValue: String(cString: $0)) }
                                       ?? .small)!)

    static var directMode: DirectMode { DirectMode.allCases[directSetting.load(ordering: .relaxed)] }

    /// Whether an AVX-512 pass with M = `cout` runs the direct kernel (`directMode`).
    static func usesDirect(cout: Int) -> Bool {
        switch directMode {
        case .off: return false
        case .small: return cout < packedMinimumRows
        case .all: return true
        }
    }

    /// Brings freshly transformed weights u ([components][cout][cin], row-major) into the layout
    /// `forward(kernel, …)` reads with these dimensions, in place: the packed panel order where
    /// `readsPackedWeights`, unchanged otherwise. Call it once after every weight transform, with
    /// the pass's M = `cout` and K = `cin` (swapped for the input gradient).
    static func prepareWeights(_ kernel: Kernel, u: UnsafeMutablePointer<Float>, cout: Int, cin: Int,
                               components: Int = WinogradWeightTransforms.components) {
        guard readsPackedWeights(kernel, cout: cout) else { return }
        dro_winograd_pack_weights(u, cout, cin, components)
    }

    /// Whether this CPU (and DRO_PORTABLE_KERNELS) allows `kernel`.
    static func isSupported(_ kernel: Kernel) -> Bool {
        isSupported(kernel, avx2FMA: CPUFeatures.avx2FMA, avx512: CPUFeatures.avx512)
    }

    private static func isSupported(_ kernel: Kernel, avx2FMA: Bool, avx512: Bool) -> Bool {
        switch kernel {
        case .blas: return true
        case .avx2: return avx2FMA
        case .avx512: return avx512
        }
    }

    /// Runs body(first ξ, count) for contiguous shares of the components on up to `threads` of
    /// our workers (OpenBLAS at one thread meanwhile). Each ξ's GEMM is computed whole by one
    /// worker, so the result equals the unsplit call. `threads` > 1 splits only with
    /// `BLASThreading.workers`; with `DRO_BLAS_THREADS=openblas` the components run in order on
    /// the calling thread (OpenBLAS threading each GEMM, as `.blasThreads` did before).
    private static func splitComponents(_ components: Int, threads: Int, _ body: (Int, Int) -> Void) {
        let parts = Parallel.blasThreading == .workers ? min(threads, components) : 1
        Parallel.workersWithSerialBLAS(parts) { p in
            let lo = components * p / parts, hi = components * (p + 1) / parts
            if lo < hi { body(lo, hi - lo) }
        }
    }

    /// For ξ in 0..<components: C_ξ[cout × tiles] = U_ξ[cout × cin] · B_ξ[cin × tiles] (overwrites).
    /// `threads` > 1 splits the components over our workers (`.blasThreads` mode).
    /// U_ξ at u + ξ·cout·cin, row-major, or packed where `readsPackedWeights(kernel, cout:)` (u
    /// must have been through `prepareWeights` with the same kernel and dimensions); row r of B_ξ
    /// at data + r·ld + ξ·xiStride, of C_ξ at products + r·ld + ξ·xiStride. The kernel must be
    /// supported (`isSupported`).
    static func forward(_ kernel: Kernel, u: UnsafePointer<Float>, data: UnsafePointer<Float>,
                        products: UnsafeMutablePointer<Float>, cout: Int, cin: Int, tiles: Int, ld: Int,
                        xiStride: Int, components: Int = WinogradWeightTransforms.components, threads: Int = 1) {
        if threads > 1 && components > 1 {
            splitComponents(components, threads: threads) { xi0, count in
                forward(kernel, u: u + xi0 * cout * cin, data: data + xi0 * xiStride,
                        products: products + xi0 * xiStride, cout: cout, cin: cin, tiles: tiles, ld: ld,
                        xiStride: xiStride, components: count)
            }
            return
        }
        switch kernel {
        case .avx2:
            dro_winograd_gemm_forward_avx2(u, data, products, cout, cin, tiles, ld, xiStride, components)
        case .avx512 where usesDirect(cout: cout):
            dro_winograd_gemm_forward_direct_avx512(u, data, products, cout, cin, tiles, ld, xiStride, components)
        case .avx512 where readsPackedWeights(kernel, cout: cout):
            dro_winograd_gemm_forward_packed_avx512(u, data, products, cout, cin, tiles, ld, xiStride, components)
        case .avx512:
            dro_winograd_gemm_forward_avx512(u, data, products, cout, cin, tiles, ld, xiStride, components)
        case .blas:
            for xi in 0..<components {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(cout), Int32(tiles), Int32(cin),
                            1, u + xi * cout * cin, Int32(cin), data + xi * xiStride, Int32(ld),
                            0, products + xi * xiStride, Int32(ld))
            }
        }
    }

    /// Environment variable: `off` runs the AVX-512 weight gradient without prefetching its dU
    /// rows (the kernel before "F(4,3) backward at 96³–24³", docs/performance.md; same results).
    static let accumulatorPrefetchVariable = "DRO_WINOGRAD_DU_PREFETCH"

    /// Whether the AVX-512 weight gradient prefetches its dU rows (read once per process).
    static let prefetchesAccumulator: Bool =
        getenv(accumulatorPrefetchVariable).map { String(cString: $0) } != "off"

    /// Register blocks of the AVX-512 weight gradient: `wide` (up to 4 vectors × 6 rows, P read in
    /// place, `dro_winograd_gemm_weight_wide_avx512`, the default) or `outer` (2 vectors × 12 rows, the
    /// kernel before "Weight-gradient GEMM with packed operands" in docs/performance.md, with or
    /// without its dU prefetch per `accumulatorPrefetchVariable`). Bit-identical results.
    enum WeightBlocks: String, CaseIterable, Sendable {
        case wide, outer
    }

    /// Environment variable: `outer` runs the AVX-512 weight gradient on the older two-vector
    /// blocks (same-binary comparisons; same results).
    static let weightBlocksVariable = "DRO_WINOGRAD_WEIGHT_KERNEL"

    /// The AVX-512 weight gradient's register blocks in this process (read once).
    static let weightBlocks: WeightBlocks =
        getenv(weightBlocksVariable).flatMap { WeightBlocks(rawValue: String(cString: $0)) } ?? .wide

    /// For ξ in 0..<components: dU_ξ[cout × cin] += P_ξ[cout × tiles] · D_ξ[cin × tiles]ᵀ
    /// (accumulates). dU_ξ row-major at du + ξ·cout·cin; P_ξ at `products`, D_ξ at `data`, laid
    /// out as in `forward`.
    static func weight(_ kernel: Kernel, products: UnsafePointer<Float>, data: UnsafePointer<Float>,
                       du: UnsafeMutablePointer<Float>, cout: Int, cin: Int, tiles: Int, ld: Int,
                       xiStride: Int, components: Int = WinogradWeightTransforms.components, threads: Int = 1) {
        if threads > 1 && components > 1 {
            splitComponents(components, threads: threads) { xi0, count in
                weight(kernel, products: products + xi0 * xiStride, data: data + xi0 * xiStride,
                       du: du + xi0 * cout * cin, cout: cout, cin: cin, tiles: tiles, ld: ld,
                       xiStride: xiStride, components: count)
            }
            return
        }
        switch kernel {
        case .avx2:
            dro_winograd_gemm_weight_avx2(products, data, du, cout, cin, tiles, ld, xiStride, components)
        case .avx512 where weightBlocks == .wide:
            dro_winograd_gemm_weight_wide_avx512(products, data, du, cout, cin, tiles, ld, xiStride, components)
        case .avx512 where prefetchesAccumulator:
            dro_winograd_gemm_weight_prefetch_avx512(products, data, du, cout, cin, tiles, ld, xiStride, components)
        case .avx512:
            dro_winograd_gemm_weight_avx512(products, data, du, cout, cin, tiles, ld, xiStride, components)
        case .blas:
            for xi in 0..<components {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(cout), Int32(cin), Int32(tiles),
                            1, products + xi * xiStride, Int32(ld), data + xi * xiStride, Int32(ld),
                            1, du + xi * cout * cin, Int32(cin))
            }
        }
    }
}
