/// Leaky ReLU: y = x for x > 0, slope·x otherwise (PyTorch LeakyReLU; its gradient at 0 is slope).
public enum LeakyReLU {
    /// nnU-Net's negative slope.
    public static let defaultSlope: Float = 0.01

    /// Overwrites y (may alias x).
    public static func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int,
                               slope: Float = defaultSlope, threads: Int = Parallel.defaultThreads) {
        Parallel.forEach(0..<count, threads: threads) { r in
            for i in r { let v = x[i]; y[i] = v > 0 ? v : v * slope }
        }
    }

    /// dx = dy · (x > 0 ? 1 : slope). dx OVERWRITTEN (may alias dy).
    public static func backward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                count: Int, slope: Float = defaultSlope, threads: Int = Parallel.defaultThreads) {
        Parallel.forEach(0..<count, threads: threads) { r in
            for i in r { dx[i] = x[i] > 0 ? dy[i] : dy[i] * slope }
        }
    }
}

/// Channel concatenation [a, b] of [N, Ca, V] and [N, Cb, V] → [N, Ca + Cb, V].
public enum ChannelConcat {
    /// Overwrites y.
    public static func forward(a: UnsafePointer<Float>, b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                               batch: Int, channelsA: Int, channelsB: Int, voxels: Int) {
        let sa = channelsA * voxels, sb = channelsB * voxels
        for n in 0..<batch {
            (y + n * (sa + sb)).update(from: a + n * sa, count: sa)
            (y + n * (sa + sb) + sa).update(from: b + n * sb, count: sb)
        }
    }

    /// Splits dy into da, db. Each OVERWRITTEN, or ACCUMULATED when its `accumulate` flag is set;
    /// nil skips that part.
    public static func backward(dy: UnsafePointer<Float>, da: UnsafeMutablePointer<Float>?,
                                db: UnsafeMutablePointer<Float>?, batch: Int, channelsA: Int, channelsB: Int,
                                voxels: Int, accumulateA: Bool = false, accumulateB: Bool = false) {
        let sa = channelsA * voxels, sb = channelsB * voxels
        for n in 0..<batch {
            let src = dy + n * (sa + sb)
            if let da { copy(src, da + n * sa, sa, accumulateA) }
            if let db { copy(src + sa, db + n * sb, sb, accumulateB) }
        }
    }

    @inline(__always)
    static func copy(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ count: Int, _ add: Bool) {
        if add { for i in 0..<count { d[i] += s[i] } } else { d.update(from: s, count: count) }
    }
}
