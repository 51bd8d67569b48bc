// Canonical orientation: every case is brought to the voxel-axis order and directions closest to
// RAS+ (voxel axis i → Right, j → Anterior, k → Superior), as nibabel's `as_closest_canonical`,
// so a dataset mixing RAS, LPS and permuted storage trains on consistent anatomy. The transform
// is an axis permutation with flips — exact, no interpolation — and is undone exactly on
// predictions (`PredictionRestorer`).

/// How a grid's voxel axes map onto canonical (closest-RAS) axes, in NIfTI order (0 = i = x,
/// 1 = j = y, 2 = z = k): canonical axis `a` is the file's axis `source[a]`, reversed when
/// `flipped[a]`. The identity for a file already stored closest to RAS.
public struct AxisOrientation: Hashable, Codable, Sendable, CustomStringConvertible {
    public var source: [Int]
    public var flipped: [Bool]

    public static let identity = AxisOrientation(source: [0, 1, 2], flipped: [false, false, false])

    public init(source: [Int], flipped: [Bool]) {
        self.source = source
        self.flipped = flipped
    }

    public var isIdentity: Bool { self == .identity }

    /// The closest-RAS orientation of an affine (4×4, voxel (i, j, k) → world mm, RAS+ as NIfTI).
    /// Greedy, as nibabel's `io_orientation` for near-orthogonal directions: the largest
    /// |direction cosine| fixes one (world axis, voxel axis) pair, then the largest among the
    /// remaining rows and columns, and so on. Ties go to the lower voxel axis.
    public static func closestRAS(_ affine: [[Double]]) -> AxisOrientation {
        var source = [0, 1, 2], flipped = [false, false, false]
        var freeWorld: Set<Int> = [0, 1, 2], freeVoxel: Set<Int> = [0, 1, 2]
        for _ in 0..<3 {
            var best = (world: -1, voxel: -1, value: -1.0)
            for w in freeWorld.sorted() {
                for v in freeVoxel.sorted() {
                    let norm = (0..<3).map { affine[$0][v] * affine[$0][v] }.reduce(0, +).squareRoot()
                    let cosine = norm > 0 ? abs(affine[w][v]) / norm : 0
                    if cosine > best.value { best = (w, v, cosine) }
                }
            }
            source[best.world] = best.voxel
            flipped[best.world] = affine[best.world][best.voxel] < 0
            freeWorld.remove(best.world)
            freeVoxel.remove(best.voxel)
        }
        return AxisOrientation(source: source, flipped: flipped)
    }

    /// Axis codes of the file's voxel axes (i, j, k), as nibabel's `aff2axcodes`: e.g. "RAS",
    /// "LPS", "ASR".
    public var fileAxisCodes: String {
        let positive = ["R", "A", "S"], negative = ["L", "P", "I"]
        var codes = ["?", "?", "?"]
        for a in 0..<3 { codes[source[a]] = flipped[a] ? negative[a] : positive[a] }
        return codes.joined()
    }

    /// An axis permutation of 0, 1, 2 with three flips (anything else came from a damaged file).
    public var isValid: Bool { source.sorted() == [0, 1, 2] && flipped.count == 3 }

    /// The axis codes; the raw fields when not valid (an error message must not trap).
    public var description: String { isValid ? fileAxisCodes : "source \(source) flipped \(flipped)" }

    /// The canonical grid's NIfTI shape [ni, nj, nk] from the file's.
    public func canonicalShape(_ file: [Int]) -> [Int] { (0..<3).map { file[source[$0]] } }

    /// The canonical grid's affine: voxel n of the canonical grid is voxel m of the file with
    /// m[source[a]] = flipped[a] ? size − 1 − n[a] : n[a]; composing gives A·P.
    public func canonicalAffine(_ affine: [[Double]], fileShape: [Int]) -> [[Double]] {
        var out = affine
        for r in 0..<3 {
            out[r][3] = affine[r][3]
            for a in 0..<3 {
                let column = source[a]
                out[r][a] = flipped[a] ? -affine[r][column] : affine[r][column]
                if flipped[a] { out[r][3] += affine[r][column] * Double(fileShape[column] - 1) }
            }
        }
        return out
    }

    /// Reorders `channels` volumes stored x fastest on the file grid (NIfTI shape `fileShape`)
    /// into the canonical grid. Exact: every value is moved, none interpolated.
    public func toCanonical<T>(_ data: [T], channels: Int, fileShape: [Int]) -> [T] {
        guard !isIdentity, let first = data.first else { return data }
        var out = [T](repeating: first, count: data.count)
        data.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                walk(fileShape: fileShape, channels: channels) { canonical, file in output[canonical] = input[file] }
            }
        }
        return out
    }

    /// The inverse of `toCanonical`: canonical-grid volumes back onto the file grid.
    public func toFile<T>(_ data: [T], channels: Int, fileShape: [Int]) -> [T] {
        guard !isIdentity, let first = data.first else { return data }
        var out = [T](repeating: first, count: data.count)
        data.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                walk(fileShape: fileShape, channels: channels) { canonical, file in output[file] = input[canonical] }
            }
        }
        return out
    }

    /// Calls `body(canonicalIndex, fileIndex)` for every voxel of every channel, canonical
    /// grid in memory order (x fastest).
    @inline(__always)
    private func walk(fileShape: [Int], channels: Int, _ body: (Int, Int) -> Void) {
        let canonical = canonicalShape(fileShape)
        let voxels = fileShape[0] * fileShape[1] * fileShape[2]
        // File strides (x fastest), taken along each canonical axis in its direction.
        let fileStride = [1, fileShape[0], fileShape[0] * fileShape[1]]
        var step = [0, 0, 0], start = 0
        for a in 0..<3 {
            let s = fileStride[source[a]]
            step[a] = flipped[a] ? -s : s
            if flipped[a] { start += s * (fileShape[source[a]] - 1) }
        }
        var o = 0
        for c in 0..<channels {
            let base = c * voxels + start
            for k in 0..<canonical[2] {
                for j in 0..<canonical[1] {
                    var index = base + k * step[2] + j * step[1]
                    for _ in 0..<canonical[0] {
                        body(o, index)
                        index += step[0]
                        o += 1
                    }
                }
            }
        }
    }
}
