/// Reusable scratch memory for kernels: numbered slots of Float, each grow-only.
///
/// A kernel asks for `buffer(slot, count:)` every call; the slot's allocation is reused when it is
/// large enough and replaced (contents discarded) when it is not, so after the first call of a
/// training step no further allocation happens. Different slots never alias, so one kernel may
/// hold several buffers at once (e.g. slot 0 = im2col columns, slot 1 = GEMM output tile).
///
/// Not thread-safe: one workspace per thread of control. Kernels that parallelise internally
/// split a buffer they obtained before forking instead of calling `buffer` from worker threads.
public final class Workspace: @unchecked Sendable {
    private var pointers: [UnsafeMutablePointer<Float>?] = []
    private var capacities: [Int] = []

    public init() {}

    deinit {
        for p in pointers { p?.deallocate() }
    }

    /// A buffer of at least `count` Floats for `slot` (0, 1, 2, ...). Contents are unspecified
    /// (whatever the previous user left, or uninitialised after growth).
    public func buffer(_ slot: Int, count: Int) -> UnsafeMutablePointer<Float> {
        precondition(slot >= 0 && count >= 0, "Workspace.buffer: slot \(slot), count \(count) must be ≥ 0")
        while pointers.count <= slot {
            pointers.append(nil)
            capacities.append(0)
        }
        let needed = max(count, 1)
        if let p = pointers[slot], capacities[slot] >= needed { return p }
        pointers[slot]?.deallocate()
        let p = UnsafeMutablePointer<Float>.allocate(capacity: needed)
        pointers[slot] = p
        capacities[slot] = needed
        return p
    }

    /// Total Floats currently held across all slots (for memory reports).
    public var floatsAllocated: Int { capacities.reduce(0, +) }

    /// Frees every slot (e.g. between training and inference).
    public func releaseAll() {
        for p in pointers { p?.deallocate() }
        pointers = []
        capacities = []
    }
}
