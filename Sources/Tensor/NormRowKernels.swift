/// Per-row kernels of instance norm (+ leaky ReLU) over one [V] row: explicit 16-lane Float
/// vectors, so the reductions are 16 independent partial sums instead of one serial Float add
/// per element (the compiler may not reassociate Float sums by itself), and each row is read
/// from memory once for the statistics. Partial sums stay in Float over `Reduce.block`
/// elements, then go to Double, as in `Reduce`.
enum NormRowKernels {
    typealias Vec = SIMD16<Float>
    static let lanes = Vec.scalarCount

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Vec {
        UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
    }

    @inline(__always)
    static func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
    }

    /// Mean and biased variance of p[0..<count], in one pass over memory: per block, Σx and then
    /// Σ(x − block mean)² while the block is in L1, blocks merged in Double with Chan et al.'s
    /// pairwise update (no Σx² − (Σx)² cancellation).
    static func meanVariance(_ p: UnsafePointer<Float>, count: Int) -> (mean: Double, variance: Double) {
        var n = 0.0, mean = 0.0, m2 = 0.0, i = 0
        while i < count {
            let e = min(count, i + Reduce.block), len = e - i
            let q = p + i
            var acc = Vec(), j = 0
            while j + lanes <= len { acc += load(q + j); j += lanes }
            var s = acc.sum()
            while j < len { s += q[j]; j += 1 }
            let center = s / Float(len)
            let cv = Vec(repeating: center)
            acc = Vec(); j = 0
            while j + lanes <= len { let d = load(q + j) - cv; acc += d * d; j += lanes }
            var ss = acc.sum()
            while j < len { let d = q[j] - center; ss += d * d; j += 1 }
            // Σ(x − μ_b)² = Σ(x − c)² − len·(μ_b − c)² for the Float centre c ≈ μ_b.
            let lenD = Double(len), bMean = Double(s) / lenD
            let off = bMean - Double(center)
            let bM2 = max(0, Double(ss) - lenD * off * off)
            let total = n + lenD, delta = bMean - mean
            mean += delta * lenD / total
            m2 += bM2 + delta * delta * n * lenD / total
            n = total
            i = e
        }
        return (mean, count > 0 ? m2 / Double(count) : 0)
    }

    /// q = LeakyReLU(p·scale + shift) (slope = 1: no activation).
    static func affineLeaky(_ p: UnsafePointer<Float>, _ q: UnsafeMutablePointer<Float>, count: Int,
                            scale: Float, shift: Float, slope: Float) {
        let sv = Vec(repeating: scale), hv = Vec(repeating: shift), lv = Vec(repeating: slope)
        var j = 0
        if slope == 1 {
            while j + lanes <= count { store(load(p + j) * sv + hv, q + j); j += lanes }
            while j < count { q[j] = p[j] * scale + shift; j += 1 }
            return
        }
        while j + lanes <= count {
            let u = load(p + j) * sv + hv
            store(u.replacing(with: u * lv, where: .!(u .> 0)), q + j)
            j += lanes
        }
        while j < count { let u = p[j] * scale + shift; q[j] = u > 0 ? u : u * slope; j += 1 }
    }

    /// `affineLeaky` storing the same values to q and to q2 (one read of p for two copies, e.g. a
    /// skip activation into its concat buffer and into the next layer's contiguous input).
    static func affineLeaky(_ p: UnsafePointer<Float>, _ q: UnsafeMutablePointer<Float>, _ q2: UnsafeMutablePointer<Float>,
                            count: Int, scale: Float, shift: Float, slope: Float) {
        let sv = Vec(repeating: scale), hv = Vec(repeating: shift), lv = Vec(repeating: slope)
        var j = 0
        if slope == 1 {
            while j + lanes <= count { let u = load(p + j) * sv + hv; store(u, q + j); store(u, q2 + j); j += lanes }
            while j < count { let u = p[j] * scale + shift; q[j] = u; q2[j] = u; j += 1 }
            return
        }
        while j + lanes <= count {
            let u = load(p + j) * sv + hv
            let a = u.replacing(with: u * lv, where: .!(u .> 0))
            store(a, q + j); store(a, q2 + j)
            j += lanes
        }
        while j < count { let u = p[j] * scale + shift; let a = u > 0 ? u : u * slope; q[j] = a; q2[j] = a; j += 1 }
    }

    /// Where the leaky ReLU's gradient mask comes from: its stored output a (the sign of a), its
    /// pre-activation recomputed from the norm input x as u = x·scale + shift with the very
    /// expression `affineLeaky` evaluates (so u > 0 exactly where the forward's a > 0, bit for bit),
    /// or nothing (bare norm).
    enum Mask {
        case none
        case output(UnsafePointer<Float>)
        case affine(scale: Float, shift: Float)
    }

    /// g = dOut masked by the leaky ReLU, x = the row's norm input at j.
    @inline(__always)
    static func masked(_ g: Vec, _ mask: Mask, _ xv: Vec, _ j: Int, _ lv: Vec) -> Vec {
        switch mask {
        case .none: return g
        case .output(let a): return g.replacing(with: g * lv, where: .!(load(a + j) .> 0))
        case .affine(let scale, let shift):
            let u = xv * Vec(repeating: scale) + Vec(repeating: shift)
            return g.replacing(with: g * lv, where: .!(u .> 0))
        }
    }

    /// Scalar form of `masked`.
    @inline(__always)
    static func masked(_ g: Float, _ mask: Mask, _ x: Float, _ j: Int, _ slope: Float) -> Float {
        switch mask {
        case .none: return g
        case .output(let a): return a[j] > 0 ? g : g * slope
        case .affine(let scale, let shift):
            let u = x * scale + shift
            return u > 0 ? g : g * slope
        }
    }

    /// (Σg, Σg·x̂) over one row, x̂ = (x − m)·s.
    static func gradientSums(x: UnsafePointer<Float>, dOut: UnsafePointer<Float>, mask: Mask,
                             slope: Float, m: Float, s: Float, count: Int) -> (Double, Double) {
        let mv = Vec(repeating: m), sv = Vec(repeating: s), lv = Vec(repeating: slope)
        var sg = 0.0, sgx = 0.0, i = 0
        while i < count {
            let e = min(count, i + Reduce.block)
            var ag = Vec(), agx = Vec(), j = i
            while j + lanes <= e {
                let xv = load(x + j)
                let g = masked(load(dOut + j), mask, xv, j, lv)
                ag += g; agx += g * ((xv - mv) * sv)
                j += lanes
            }
            var bg = ag.sum(), bgx = agx.sum()
            while j < e {
                let g = masked(dOut[j], mask, x[j], j, slope)
                bg += g; bgx += g * ((x[j] - m) * s)
                j += 1
            }
            sg += Double(bg); sgx += Double(bgx)
            i = e
        }
        return (sg, sgx)
    }

    /// dx = k·(g − mg − x̂·mgx), x̂ = (x − m)·s.
    static func inputGradient(x: UnsafePointer<Float>, dOut: UnsafePointer<Float>, mask: Mask,
                              slope: Float, m: Float, s: Float, k: Float, mg: Float, mgx: Float,
                              dx: UnsafeMutablePointer<Float>, count: Int) {
        let mv = Vec(repeating: m), sv = Vec(repeating: s), lv = Vec(repeating: slope)
        let kv = Vec(repeating: k), mgv = Vec(repeating: mg), mgxv = Vec(repeating: mgx)
        let vectorEnd = count - count % lanes
        var j = 0
        while j < vectorEnd {
            let xv = load(x + j)
            let g = masked(load(dOut + j), mask, xv, j, lv)
            store(kv * (g - mgv - (xv - mv) * sv * mgxv), dx + j)
            j += lanes
        }
        while j < count {
            let g = masked(dOut[j], mask, x[j], j, slope)
            dx[j] = k * (g - mg - (x[j] - m) * s * mgx)
            j += 1
        }
    }

}
