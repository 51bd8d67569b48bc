// Array-based binary sum tree over N non-negative Doubles.
//
// Layout (the iterative segment tree): leaf i sits at node N + i, internal node v in 1..<N holds
// node[2v] + node[2v+1], the root is node 1 and node 0 is unused — 2N Doubles in all, for any N
// (no padding to a power of two). Every internal node is always recomputed as the sum of its two
// children, never adjusted by a difference, so the sums carry no drift: after any sequence of
// updates the array is bit-identical to a fresh `build` from the same leaves.
//
// Cost: `set` and `descend` are O(log N); `build` is O(N).

struct SumTree {
    /// Leaves (N of them).
    let count: Int
    /// 2N nodes; see the layout above.
    private(set) var nodes: [Double]

    init(leaves: [Double]) {
        count = leaves.count
        nodes = [Double](repeating: 0, count: 2 * Swift.max(count, 1))
        nodes.withUnsafeMutableBufferPointer { n in
            for i in 0 ..< count { n[count + i] = leaves[i] }
        }
        rebuildInternal()
    }

    /// Recomputes every internal node from the leaves, bottom up.
    mutating func rebuildInternal() {
        let n0 = count
        nodes.withUnsafeMutableBufferPointer { n in
            var v = n0 - 1
            while v >= 1 {
                n[v] = n[2 * v] + n[2 * v + 1]
                v -= 1
            }
        }
    }

    /// Sum of all leaves.
    @inline(__always) var total: Double { count == 1 ? nodes[1] : (count == 0 ? 0 : nodes[1]) }

    @inline(__always) func leaf(_ i: Int) -> Double { nodes[count + i] }

    /// Sets every leaf to value(i), then every internal node; O(N).
    mutating func assignLeaves(_ value: (Int) -> Double) {
        let n0 = count
        nodes.withUnsafeMutableBufferPointer { n in
            for i in 0 ..< n0 { n[n0 + i] = value(i) }
        }
        rebuildInternal()
    }

    /// Sets leaf i and recomputes its ancestors.
    @inline(__always) mutating func set(_ i: Int, _ value: Double) {
        let n0 = count
        nodes.withUnsafeMutableBufferPointer { n in
            var v = n0 + i
            n[v] = value
            v >>= 1
            while v >= 1 {
                n[v] = n[2 * v] + n[2 * v + 1]
                v >>= 1
            }
        }
    }

    /// The leaf whose cumulative interval contains `target` ∈ [0, total), cumulating leaves in the
    /// tree's left-to-right order (a rotation of 0..<N when N is not a power of two; the interval
    /// of leaf i has length leaf(i) either way, which is all sampling needs): at each node go left
    /// when target < left sum, else subtract it and go right. A child with zero mass is never
    /// entered (so zeroed leaves are never returned, even when rounding pushes target past the
    /// end of the last interval). Requires total > 0.
    @inline(__always) func descend(_ target: Double) -> Int {
        let n0 = count
        return nodes.withUnsafeBufferPointer { n in
            var u = target
            var v = 1
            while v < n0 {
                let left = n[2 * v], right = n[2 * v + 1]
                if (u < left && left > 0) || !(right > 0) {
                    v = 2 * v
                } else {
                    u -= left
                    v = 2 * v + 1
                }
            }
            return v - n0
        }
    }
}
