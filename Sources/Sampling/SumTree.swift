// Array-based binary sum tree over N non-negative Doubles.
//
// Layout (the iterative segment tree): leaf i sits at node N + i, internal node v in 1..<N holds
// node[2v] + node[2v+1], the root is node 1 and node 0 is unused — 2N Doubles in all, for any N
// (no padding to a power of two). Every internal node is always recomputed as the sum of its two
// children, never adjusted by a difference, so the sums carry no drift: after any sequence of
// updates the nodes are bit-identical to a fresh `build` from the same leaves.
//
// Cost: `set` and `descend` are O(log N); `assignLeaves` is O(N). The nodes live in one manual
// allocation owned by this class, so the hot paths pay no copy-on-write or exclusivity checks.
// Large trees are 2 MiB-aligned and marked for transparent huge pages: a descent touches ~log₂N
// nodes spread over the whole array, and with 4 KiB pages nearly every deep level costs a TLB
// miss (16 MB of nodes at N = 10⁶).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Huge-page size on x86-64 and arm64 Linux; below it the advice is pointless.
private let hugePageBytes = 2 << 20

/// Memory for n Doubles, 2 MiB-aligned with MADV_HUGEPAGE when at least one huge page; free().
private func allocateNodes(_ n: Int) -> UnsafeMutablePointer<Double> {
    let bytes = n * MemoryLayout<Double>.stride
    var raw: UnsafeMutableRawPointer?
    let alignment = bytes >= hugePageBytes ? hugePageBytes : 64
    // Allocation failure is out of memory (as for any Swift allocation), not bad input.
    guard posix_memalign(&raw, alignment, bytes) == 0, let p = raw else {
        fatalError("out of memory allocating \(bytes) bytes for the sampler's sum tree")
    }
    #if os(Linux)
    if bytes >= hugePageBytes { _ = madvise(p, bytes, MADV_HUGEPAGE) }
    #endif
    return p.bindMemory(to: Double.self, capacity: n)
}

final class SumTree {
    /// Leaves (N of them).
    let count: Int
    /// 2N nodes; see the layout above.
    private let node: UnsafeMutablePointer<Double>
    private let nodeCount: Int
    /// Receives the look-ahead loads of `descend` so the optimiser keeps them.
    private var prefetchSink: UInt64 = 0

    init(leaves: [Double]) {
        count = leaves.count
        nodeCount = 2 * Swift.max(count, 1)
        node = allocateNodes(nodeCount)
        node.initialize(repeating: 0, count: nodeCount)
        for i in 0 ..< count { node[count + i] = leaves[i] }
        rebuildInternal()
    }

    deinit { free(node) }

    /// A copy of every node (tests compare trees bit for bit).
    var nodes: [Double] { Array(UnsafeBufferPointer(start: node, count: nodeCount)) }

    /// Bytes of node storage.
    var byteCount: Int { nodeCount * MemoryLayout<Double>.stride }

    /// Recomputes every internal node from the leaves, bottom up.
    func rebuildInternal() {
        var v = count - 1
        while v >= 1 {
            node[v] = node[2 * v] + node[2 * v + 1]
            v -= 1
        }
    }

    /// Sets every leaf to value(i), then every internal node; O(N).
    func assignLeaves(_ value: (Int) -> Double) {
        for i in 0 ..< count { node[count + i] = value(i) }
        rebuildInternal()
    }

    /// Sum of all leaves (0 for an empty tree).
    @inline(__always) var total: Double { count == 0 ? 0 : node[1] }

    @inline(__always) func leaf(_ i: Int) -> Double { node[count + i] }

    /// Sets leaf i and recomputes its ancestors.
    @inline(__always) func set(_ i: Int, _ value: Double) {
        var v = count + i
        node[v] = value
        v >>= 1
        while v >= 1 {
            node[v] = node[2 * v] + node[2 * v + 1]
            v >>= 1
        }
    }

    /// The leaf whose cumulative interval contains `target` ∈ [0, total), cumulating leaves in the
    /// tree's left-to-right order (a rotation of 0..<N when N is not a power of two; the interval
    /// of leaf i has length leaf(i) either way, which is all sampling needs): at each node go left
    /// when target < left sum, else subtract it and go right. A child with zero mass is never
    /// entered (so zeroed leaves are never returned, even when rounding pushes target past the
    /// end of the last interval). Requires total > 0.
    @inline(__always) func descend(_ target: Double) -> Int {
        var u = target
        var v = 1
        var sink: UInt64 = 0
        let last = nodeCount - 1
        while v < count {
            // Touch the cache line of v's descendants three levels down (8v ..< 8v + 8): the load
            // has no dependency on this level's comparison, so it overlaps the next ones.
            sink &+= node[Swift.min(8 &* v, last)].bitPattern
            let left = node[2 * v], right = node[2 * v + 1]
            if (u < left && left > 0) || !(right > 0) {
                v = 2 * v
            } else {
                u -= left
                v = 2 * v + 1
            }
        }
        prefetchSink = sink
        return v - count
    }
}
