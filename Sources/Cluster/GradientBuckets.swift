/// Sums a flat gradient buffer over the ranks in buckets while the backward pass is still
/// running, as PyTorch's DistributedDataParallel does.
///
/// The buffer is cut into buckets of at most `bucketElements` elements from its end backwards
/// (a network's backward pass writes its last layers first: with UNet3D's arena order the
/// finished gradients grow from the end of the arena towards its start). The backward pass
/// reports each range of the buffer it has finished (`ready`); a bucket whose every element has
/// been reported starts its sum at once (`Communicator.startAllreduceSum`, MPI_Iallreduce) and
/// the rest of the backward pass overlaps with it. `finish()` starts any bucket not started yet
/// (in bucket order; all of them for a model that reports nothing) and waits for every sum.
///
/// Ranks must start the same buckets in the same order: that holds because every rank runs the
/// same network, so its backward pass reports the same ranges in the same order.
/// With `poll`, every `ready` call also lets the started sums advance (MPI_Testall): Open MPI
/// moves a nonblocking collective on only inside MPI calls (docs/scaling.md measures both).
public final class GradientBuckets {
    public let communicator: any Communicator
    /// Element ranges of the buckets, bucket 0 at the end of the buffer.
    public let buckets: [Range<Int>]
    public let poll: Bool
    private var base: UnsafeMutablePointer<Float>?
    private var count = 0
    private var filled: [Int]
    private var started: [Bool]
    /// Buckets started during the current pass, in start order (tests).
    public private(set) var startOrder: [Int] = []

    /// Buckets for a buffer of `count` elements; `bucketElements` ≥ 1.
    public init(communicator: any Communicator, count: Int, bucketElements: Int, poll: Bool) {
        self.communicator = communicator
        self.poll = poll
        let size = max(1, bucketElements)
        var ranges: [Range<Int>] = []
        var end = count
        while end > 0 {
            let start = max(0, end - size)
            ranges.append(start ..< end)
            end = start
        }
        buckets = ranges
        self.count = count
        filled = Array(repeating: 0, count: ranges.count)
        started = Array(repeating: false, count: ranges.count)
    }

    /// Begins a backward pass over `buffer` (its count must be the one of `init`).
    public func begin(_ buffer: UnsafeMutableBufferPointer<Float>) {
        precondition(buffer.count == count, "gradient buckets built for \(count) elements, buffer has \(buffer.count)")
        base = buffer.baseAddress
        for i in buckets.indices { filled[i] = 0; started[i] = false }
        startOrder.removeAll(keepingCapacity: true)
    }

    /// Elements `range` of the buffer hold their final gradient (each element reported once per
    /// pass). Starts the sum of every bucket this completes.
    public func ready(_ range: Range<Int>) {
        guard base != nil, !range.isEmpty else { return }
        // Buckets are contiguous and ordered from the end: bucket i covers the i-th block from the end.
        let size = buckets.first.map { $0.count } ?? 1
        let lastIndex = (count - 1 - range.lowerBound) / size
        let firstIndex = (count - range.upperBound) / size
        for i in firstIndex ... min(lastIndex, buckets.count - 1) {
            let overlap = buckets[i].clamped(to: range).count
            guard overlap > 0 else { continue }
            filled[i] += overlap
            precondition(filled[i] <= buckets[i].count, "gradient range \(range) reported twice")
            if filled[i] == buckets[i].count { start(i) }
        }
        if poll { communicator.progressPending() }
    }

    /// Starts what is left (in bucket order) and waits for every sum; the buffer then holds the
    /// sum over ranks.
    public func finish() {
        guard base != nil else { return }
        for i in buckets.indices where !started[i] { start(i) }
        communicator.waitPending()
        base = nil
    }

    private func start(_ i: Int) {
        guard let base, !started[i] else { return }
        started[i] = true
        startOrder.append(i)
        communicator.startAllreduceSum(UnsafeMutableBufferPointer(start: base + buckets[i].lowerBound,
                                                                  count: buckets[i].count))
    }
}
