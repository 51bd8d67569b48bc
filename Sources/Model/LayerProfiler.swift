import Dispatch
import Tensor
#if canImport(Glibc)
import Glibc
#endif

/// Time and FLOPs per layer and pass, accumulated over calls (benchmarks only; the model runs
/// untimed when no profiler is attached). Wall-clock time, or with `processCPUClock` the
/// process's CPU time (meaningful with one thread: then it is the layer's own time, free of the
/// other jobs on a shared machine).
public final class LayerProfiler {
    public enum Kind: String, Sendable { case conv, convTranspose, norm, other }
    public struct Entry: Sendable {
        public var name: String
        public var kind: Kind
        public var seconds: Double
        public var flops: Double
        public var calls: Int
        /// Which kernel ran (e.g. "im2col+sgemm", "winograd").
        public var path: String
        /// The convolution's geometry (conv entries), for per-layer limits.
        public var geometry: Conv3dGeometry?
        /// Whether a backward conv entry includes the input gradient.
        public var inputGradient: Bool
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    /// Time with CLOCK_PROCESS_CPUTIME_ID instead of the wall clock.
    public let processCPUClock: Bool

    public init(processCPUClock: Bool = false) { self.processCPUClock = processCPUClock }

    public func reset() { entries = []; index = [:] }

    /// Seconds on this profiler's clock.
    public func now() -> Double {
        guard processCPUClock else { return Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Times a pass outside the network (the benchmark's loss and optimizer step) as its own row.
    public func time<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        try measure(name, kind: .other, flops: 0, body)
    }

    func measure<T>(_ name: String, kind: Kind, flops: Double, path: String = "", geometry: Conv3dGeometry? = nil,
                    inputGradient: Bool = false, _ body: () throws -> T) rethrows -> T {
        let t0 = now()
        let r = try body()
        let dt = now() - t0
        if let i = index[name] {
            entries[i].seconds += dt; entries[i].flops += flops; entries[i].calls += 1
        } else {
            index[name] = entries.count
            entries.append(Entry(name: name, kind: kind, seconds: dt, flops: flops, calls: 1, path: path,
                                 geometry: geometry, inputGradient: inputGradient))
        }
        return r
    }
}
