import Foundation
import Tensor

/// `dro-bench blas`: which OpenBLAS kernels this process runs, how they were chosen, and a quick
/// square sgemm rate — a cheap check that `BLASRuntime.ensureVectorKernels` did its job — and
/// which of the package's own C kernels (CKernels) run.
public enum BLASBenchmark {
    /// Default square size: 1024³ multiply-adds = 2.1 GFLOP per call, a fraction of a second
    /// even with the SSE3 fallback kernels (docs/performance.md, "Measurements behind constants
    /// in the code").
    public static let defaultSize = 1024

    /// The report (text or one JSON object).
    public static func report(size: Int = defaultSize, threads: Int, json: Bool) throws -> String {
        Parallel.configure(threads: threads)
        let gflops = UNetBenchmark.sgemmPeakGFLOPs(size: size)
        var replaced: String? = nil
        if case .automatic(let from, _) = BLASRuntime.selection { replaced = from }
        if json {
            var object: [String: Any] = [
                "openblas_core": BLASRuntime.coreName, "core_selection": BLASRuntime.selectionName,
                "fallback_core": BLASRuntime.isFallbackCore(BLASRuntime.coreName),
                "sgemm_size": size, "threads": threads, "sgemm_gflops": gflops,
                "blas_threads": Parallel.blasThreading.rawValue,
                "kernels": KernelChoice.summary,
            ]
            if let replaced { object["replaced_core"] = replaced }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self) + "\n"
        }
        var text = "OpenBLAS core: \(BLASRuntime.coreDescription)\n"
        text += "kernels: \(KernelChoice.description)\n"
        text += String(format: "sgemm %d² on %d threads: %.1f GFLOP/s (best of 5), ", size, threads, gflops)
            + Parallel.blasThreading.description + "\n"
        if BLASRuntime.isFallbackCore(BLASRuntime.coreName) { text += fallbackNote + "\n" }
        return text
    }

    /// Printed by every benchmark whose run used pre-AVX kernels.
    public static var fallbackNote: String {
        "note: OpenBLAS runs its \(BLASRuntime.coreName) (pre-AVX) kernels; if the CPU has AVX2, unset "
            + "\(BLASRuntime.keepVariable) or set OPENBLAS_CORETYPE=Haswell (SkylakeX with AVX-512)"
    }
}
