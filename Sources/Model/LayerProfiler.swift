import Dispatch

/// Wall-clock time and FLOPs per layer and pass, accumulated over calls (benchmarks only; the
/// model runs untimed when no profiler is attached).
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
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    public init() {}

    public func reset() { entries = []; index = [:] }

    func measure<T>(_ name: String, kind: Kind, flops: Double, path: String = "", _ body: () throws -> T) rethrows -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try body()
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        if let i = index[name] {
            entries[i].seconds += dt; entries[i].flops += flops; entries[i].calls += 1
        } else {
            index[name] = entries.count
            entries.append(Entry(name: name, kind: kind, seconds: dt, flops: flops, calls: 1, path: path))
        }
        return r
    }
}
