/// Inclusive voxel bounding box [lo, hi] per axis (x, y, z) in image coordinates.
public struct VoxelBox: Sendable, Equatable {
    public var lo: [Int]
    public var hi: [Int]

    public init(lo: [Int], hi: [Int]) { self.lo = lo; self.hi = hi }

    /// Smallest box holding both boxes (either may be nil = empty).
    public static func union(_ a: VoxelBox?, _ b: VoxelBox?) -> VoxelBox? {
        guard let a else { return b }
        guard let b else { return a }
        return VoxelBox(lo: (0..<3).map { min(a.lo[$0], b.lo[$0]) },
                        hi: (0..<3).map { max(a.hi[$0], b.hi[$0]) })
    }
}

/// The two masks of one label cropped to their joint bounding box plus a one-voxel zero margin
/// on every side.
///
/// Why the margin is exact: a surface voxel is a foreground voxel with a 6-connected background
/// neighbour, outside the image counting as background (docs/method.md §5.1). Every 6-neighbour of a
/// foreground voxel lies in the padded box; a neighbour outside the image lands in the margin
/// (zero = background), one inside the image but outside the box is background too. Every
/// surface voxel of either mask lies in the box, so the distance transform of one surface
/// computed over the box is exact at the other surface's voxels.
struct MaskPair {
    /// Padded box dimensions [bx, by, bz]; masks are 0/1, index x + bx·(y + by·z).
    let shape: [Int]
    var gt: [UInt8]
    var pred: [UInt8]
    var nGT = 0
    var nPred = 0
    var nBoth = 0

    /// Margin added on each side of the joint bounding box (one voxel: 6-neighbourhood).
    static let margin = 1

    /// Crops two masks given by predicates over image voxel indices.
    init(box: VoxelBox, imageShape: [Int], isGT: (Int) -> Bool, isPred: (Int) -> Bool) {
        let m = MaskPair.margin
        let bx = box.hi[0] - box.lo[0] + 1 + 2 * m
        let by = box.hi[1] - box.lo[1] + 1 + 2 * m
        let bz = box.hi[2] - box.lo[2] + 1 + 2 * m
        shape = [bx, by, bz]
        gt = [UInt8](repeating: 0, count: bx * by * bz)
        pred = gt
        let nx = imageShape[0], ny = imageShape[1]
        var cGT = 0, cPred = 0, cBoth = 0
        for z in box.lo[2]...box.hi[2] {
            for y in box.lo[1]...box.hi[1] {
                let rowImage = nx * (y + ny * z)
                let rowBox = m - box.lo[0] + bx * (y - box.lo[1] + m + by * (z - box.lo[2] + m))
                for x in box.lo[0]...box.hi[0] {
                    let g = isGT(rowImage + x), p = isPred(rowImage + x)
                    if g { gt[rowBox + x] = 1; cGT += 1 }
                    if p { pred[rowBox + x] = 1; cPred += 1 }
                    if g && p { cBoth += 1 }
                }
            }
        }
        nGT = cGT; nPred = cPred; nBoth = cBoth
    }

    /// Surface voxels of a 0/1 mask in this padded box: a flag array and the list of indices.
    func surface(of mask: [UInt8]) -> (flags: [UInt8], indices: [Int]) {
        let bx = shape[0], by = shape[1], bz = shape[2]
        let sliceSize = bx * by
        var flags = [UInt8](repeating: 0, count: mask.count)
        var indices: [Int] = []
        mask.withUnsafeBufferPointer { m in
            // The margin is zero, so only interior voxels can be foreground.
            for z in 1..<max(1, bz - 1) {
                for y in 1..<max(1, by - 1) {
                    let row = bx * (y + by * z)
                    for x in 1..<max(1, bx - 1) {
                        let i = row + x
                        if m[i] == 0 { continue }
                        if m[i - 1] == 0 || m[i + 1] == 0 || m[i - bx] == 0 || m[i + bx] == 0
                            || m[i - sliceSize] == 0 || m[i + sliceSize] == 0 {
                            flags[i] = 1
                            indices.append(i)
                        }
                    }
                }
            }
        }
        return (flags, indices)
    }
}

/// Bounding boxes of every label value in one pass over a label volume.
enum LabelBoxes {
    /// Boxes for labels 1...maxLabel (index = label); nil where the label is absent.
    static func compute(labels: [Int32], shape: [Int], maxLabel: Int) -> [VoxelBox?] {
        let nx = shape[0], ny = shape[1], nz = shape[2]
        var lo = [[Int]](repeating: [Int.max, Int.max, Int.max], count: maxLabel + 1)
        var hi = [[Int]](repeating: [-1, -1, -1], count: maxLabel + 1)
        labels.withUnsafeBufferPointer { l in
            for z in 0..<nz {
                for y in 0..<ny {
                    let row = nx * (y + ny * z)
                    var x = 0
                    while x < nx {
                        let v = Int(l[row + x])
                        if v <= 0 || v > maxLabel { x += 1; continue }
                        // run of the same label along x: update once
                        var end = x
                        while end + 1 < nx && Int(l[row + end + 1]) == v { end += 1 }
                        if x < lo[v][0] { lo[v][0] = x }
                        if end > hi[v][0] { hi[v][0] = end }
                        if y < lo[v][1] { lo[v][1] = y }
                        if y > hi[v][1] { hi[v][1] = y }
                        if z < lo[v][2] { lo[v][2] = z }
                        if z > hi[v][2] { hi[v][2] = z }
                        x = end + 1
                    }
                }
            }
        }
        return (0...maxLabel).map { hi[$0][0] < 0 ? nil : VoxelBox(lo: lo[$0], hi: hi[$0]) }
    }
}
