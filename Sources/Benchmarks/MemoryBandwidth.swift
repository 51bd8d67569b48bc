import Dispatch
import Tensor

/// STREAM-like bandwidth of this machine, measured in the same run as the figures it is
/// compared with (`dro-bench unet`'s per-layer Winograd limit).
///
/// Kernels (STREAM's, Float32): copy a[i] = b[i] (8 bytes counted per element), triad
/// a[i] = b[i] + s·c[i] (12 bytes per element); write-allocate traffic is not counted, as in
/// STREAM. Each of `threads` workers runs on its own contiguous slice (its own arrays for the
/// cache figure), as the Winograd workers run their own chunks. Best of `runs` timed passes
/// after one warm-up (the least disturbed pass on a shared machine), wall clock (thread CPU time
/// with `cpuClock` on one thread).
///   - memory: 3 arrays of `memoryFloats` (3 × 32 MiB by default, 3 × the 32 MiB L3 here);
///   - cache: per worker 3 arrays of `cacheFloats` (3 × 128 KiB = 384 KiB, inside one core's
///     1 MiB L2 and outside its 64 KiB L1), swept `cacheSweeps` times per timed pass.
public struct MemoryBandwidth: Sendable {
    public var copyGBs: Double
    public var triadGBs: Double
    public var cacheTriadGBs: Double

    public static let memoryFloats = 8 << 20
    public static let cacheFloats = 32 << 10
    static let cacheSweeps = 256
    static let runs = 5

    /// `cpuClock` (one thread only): timed in the calling thread's CPU time.
    public static func measure(threads: Int, memoryFloats: Int = memoryFloats,
                               cacheFloats: Int = cacheFloats, cpuClock: Bool = false) -> MemoryBandwidth {
        let cpu = cpuClock && threads <= 1
        let workers = max(1, threads)
        let a = FloatBuffer(count: memoryFloats), b = FloatBuffer(count: memoryFloats), c = FloatBuffer(count: memoryFloats)
        Parallel.forEach(0..<memoryFloats, threads: workers) { r in
            for i in r { a[i] = 0; b[i] = Float(i & 255); c[i] = 1 }
        }
        let pa = a.pointer, pb = b.pointer, pc = c.pointer
        let copy = best(cpu) { Parallel.forEach(0..<memoryFloats, threads: workers) { r in copyKernel(pa, pb, r) } }
        let triad = best(cpu) { Parallel.forEach(0..<memoryFloats, threads: workers) { r in triadKernel(pa, pb, pc, r) } }
        let local = (0..<workers).map { _ in (FloatBuffer(count: cacheFloats), FloatBuffer(count: cacheFloats),
                                               FloatBuffer(count: cacheFloats)) }
        for (x, y, z) in local { for i in 0..<cacheFloats { x[i] = 0; y[i] = Float(i & 255); z[i] = 1 } }
        let cache = best(cpu) {
            Parallel.forEach(count: workers, threads: workers) { k in
                let (x, y, z) = local[k]
                for _ in 0..<cacheSweeps { triadKernel(x.pointer, y.pointer, z.pointer, 0..<cacheFloats) }
            }
        }
        let bytes = Double(MemoryLayout<Float>.size)
        return MemoryBandwidth(copyGBs: 2 * bytes * Double(memoryFloats) / copy / 1e9,
                               triadGBs: 3 * bytes * Double(memoryFloats) / triad / 1e9,
                               cacheTriadGBs: 3 * bytes * Double(cacheFloats * cacheSweeps * workers) / cache / 1e9)
    }

    /// Shortest of `runs` timed calls after one untimed, in seconds.
    static func best(_ cpu: Bool, _ body: () -> Void) -> Double {
        var shortest = Double.infinity
        for run in 0...runs {
            let t0 = benchSeconds(cpu: cpu)
            body()
            let dt = benchSeconds(cpu: cpu) - t0
            if run > 0 { shortest = min(shortest, dt) }
        }
        return shortest
    }

    @inline(never)
    static func copyKernel(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ r: Range<Int>) {
        for i in r { a[i] = b[i] }
    }

    @inline(never)
    static func triadKernel(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                            _ r: Range<Int>) {
        let s: Float = 3
        for i in r { a[i] = b[i] + s * c[i] }
    }
}
