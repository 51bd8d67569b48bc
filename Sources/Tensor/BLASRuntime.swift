import CBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes OpenBLAS use vector kernels when it does not recognise the CPU.
///
/// A DYNAMIC_ARCH OpenBLAS picks its kernels once, in its load-time constructor, from the CPU's
/// family/model and the `OPENBLAS_CORETYPE` environment variable. A CPU newer than the library
/// (e.g. OpenBLAS 0.3.21 on Intel family 6 model 207) gets the generic x86-64 fallback, the SSE3
/// "Prescott" kernels: about a third of the AVX2 sgemm rate. Since the choice is made before
/// `main`, the only remedy from inside the program is to set `OPENBLAS_CORETYPE` and re-execute
/// the same binary with the same arguments, which `ensureVectorKernels()` does.
///
/// Rules: an `OPENBLAS_CORETYPE` already set is never overridden; `DRO_KEEP_OPENBLAS_CORE=1`
/// opts out; the re-executed image finds `DRO_BLAS_REEXEC` and never re-executes again; when
/// `execv` fails the program continues with the fallback kernels. The re-executed image removes
/// both variables again, so child processes see the caller's environment unchanged.
public enum BLASRuntime {
    /// OpenBLAS's own override, read by its constructor (OpenBLAS driver/others/dynamic.c).
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"
    /// Set to 1 to keep whatever OpenBLAS chose.
    public static let keepVariable = "DRO_KEEP_OPENBLAS_CORE"
    /// Loop guard, set for the re-executed image only; its value is the fallback core replaced.
    public static let reexecVariable = "DRO_BLAS_REEXEC"

    /// Core names of OpenBLAS 0.3.x's x86-64 kernels older than AVX (dynamic.c `corename[]`):
    /// what it falls back to for an unknown CPU ("Prescott") and the SSE-era families.
    static let preAVXCores: Set<String> = ["unknown", "katmai", "coppermine", "northwood", "prescott", "banias",
                                           "atom", "core2", "penryn", "dunnington", "nehalem"]

    /// How the kernels in use were chosen (for benchmark reports).
    public enum Selection: Equatable, Sendable {
        /// OpenBLAS's own choice (no override).
        case openBLAS
        /// `OPENBLAS_CORETYPE` was set by the caller.
        case environment(String)
        /// `ensureVectorKernels` replaced the fallback `from` by `to` and re-executed.
        case automatic(from: String, to: String)
    }

    nonisolated(unsafe) public private(set) static var selection: Selection = .openBLAS

    /// OpenBLAS's kernel family in use (e.g. "Haswell", "SkylakeX", "Prescott").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// True when `core` is a pre-AVX kernel family (the unknown-CPU fallback among them).
    public static func isFallbackCore(_ core: String) -> Bool { preAVXCores.contains(core.lowercased()) }

    /// The core OpenBLAS would choose for a CPU with these /proc/cpuinfo flags (its own tests in
    /// dynamic.c: AVX-512 F+BW+VL+DQ → SkylakeX, plus BF16 → Cooperlake; AVX2 + FMA → Haswell);
    /// nil when the CPU has no AVX2.
    public static func preferredCore(flags: Set<String>) -> String? {
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) {
            return flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX"
        }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// Call first thing in `main`, before any output, thread or argument parsing: when OpenBLAS
    /// fell back to pre-AVX kernels on an x86-64 CPU with AVX2 or AVX-512, sets
    /// `OPENBLAS_CORETYPE` to the matching core and re-executes the program (same argv; the new
    /// image replaces this one, so stdout, exit status and signals are those of a plain start).
    /// Otherwise returns at once.
    public static func ensureVectorKernels() {
        if let from = environment(reexecVariable) {
            // The re-executed image: remember what happened, then restore the caller's environment.
            let to = environment(coreTypeVariable) ?? "?"
            selection = .automatic(from: from, to: to)
            unsetenv(reexecVariable)
            unsetenv(coreTypeVariable)
            return
        }
        if let pinned = environment(coreTypeVariable) {
            selection = .environment(pinned)
            return
        }
        #if os(Linux) && arch(x86_64)
        if let keep = environment(keepVariable), keep != "0" { return }
        let current = coreName
        guard isFallbackCore(current), let flags = cpuFlags(), let target = preferredCore(flags: flags) else { return }
        setenv(coreTypeVariable, target, 1)
        setenv(reexecVariable, current, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed (e.g. no /proc): keep running with the fallback, environment as it was.
        unsetenv(reexecVariable)
        unsetenv(coreTypeVariable)
        #endif
    }

    static func environment(_ name: String) -> String? {
        guard let p = getenv(name) else { return nil }
        let s = String(cString: p)
        return s.isEmpty ? nil : s
    }

    /// The `flags` line of the first processor in /proc/cpuinfo, as a set; nil when unreadable.
    static func cpuFlags(path: String = "/proc/cpuinfo") -> Set<String>? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            guard let line else { break }
            let text = String(cString: line)
            guard text.hasPrefix("flags"), let colon = text.firstIndex(of: ":") else { continue }
            let words = text[text.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            return Set(words.map(String.init))
        }
        return nil
    }

    /// One line for reports: the core and how it was chosen.
    public static var coreDescription: String {
        switch selection {
        case .openBLAS:
            return isFallbackCore(coreName) ? "\(coreName) (OpenBLAS's fallback for an unrecognised CPU)" : "\(coreName) (OpenBLAS's choice)"
        case .environment(let v): return "\(coreName) (OPENBLAS_CORETYPE=\(v))"
        case .automatic(let from, let to): return "\(coreName) (selected automatically: OpenBLAS fell back to \(from); CPU supports \(to))"
        }
    }

    /// Machine-readable origin of the choice: "openblas", "environment" or "automatic".
    public static var selectionName: String {
        switch selection {
        case .openBLAS: return "openblas"
        case .environment: return "environment"
        case .automatic: return "automatic"
        }
    }
}
