/// Sums of long Float runs without the O(n·ε) drift of one Float accumulator: Float partial sums
/// over blocks of `block` elements (vectorisable), blocks added in Double.
enum Reduce {
    static let block = 1024

    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, count: Int) -> Double {
        var total = 0.0, i = 0
        while i < count {
            let e = min(count, i + block)
            var s: Float = 0
            for j in i..<e { s += p[j] }
            total += Double(s)
            i = e
        }
        return total
    }

    /// Σ p[i]·q[i].
    @inline(__always)
    static func dot(_ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>, count: Int) -> Double {
        var total = 0.0, i = 0
        while i < count {
            let e = min(count, i + block)
            var s: Float = 0
            for j in i..<e { s += p[j] * q[j] }
            total += Double(s)
            i = e
        }
        return total
    }
}
