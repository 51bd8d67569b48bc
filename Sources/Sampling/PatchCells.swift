// Patch cells: the sampling unit `sampler.unit: patch`.
//
// Each case's foreground bounding box (the whole volume when it has no foreground) is tiled
// into patch-sized cells; every (case, cell) is one sample with its own loss history. Along each
// axis a box [lower, upper) gives ⌈(upper − lower)/p⌉ cells with origins lower + k·p, the last
// one shifted back to shape − p when it would leave the volume (and to 0 when the volume is
// smaller than the patch, which the patch extractor pads). Origins are distinct within a case.
// Sample indices run case by case, cells x fastest, then y, then z (the NIfTI order).
//
// Memory is O(cases): a cell's case is found by binary search over per-case index offsets and
// its origin by div/mod, so 10⁶ cells cost nothing per cell here.

/// A voxel position or extent, x fastest (NIfTI [nx, ny, nz]).
public struct Voxel3: Hashable, Sendable, CustomStringConvertible {
    public var x: Int, y: Int, z: Int
    public init(_ x: Int, _ y: Int, _ z: Int) { self.x = x; self.y = y; self.z = z }
    subscript(axis: Int) -> Int { axis == 0 ? x : (axis == 1 ? y : z) }
    public var description: String { "(\(x), \(y), \(z))" }
}

public struct PatchCells: Sendable {
    /// One case's geometry: volume shape and foreground bounding box [lower, upper) (nil = none).
    public struct Case: Sendable {
        public var id: String
        public var shape: Voxel3
        public var foreground: (lower: Voxel3, upper: Voxel3)?
        public init(id: String, shape: Voxel3, foreground: (lower: Voxel3, upper: Voxel3)?) {
            self.id = id
            self.shape = shape
            self.foreground = foreground
        }
    }

    struct Grid: Sendable {
        let id: String, shape: Voxel3, lower: Voxel3, cells: Voxel3
        var cellCount: Int { cells.x * cells.y * cells.z }
    }

    public let patchSize: Voxel3
    let grids: [Grid]
    /// offsets[c] = first sample index of case c; offsets[cases] = count.
    let offsets: [Int]

    /// Total number of cells (samples).
    public var count: Int { offsets.last ?? 0 }
    public var caseCount: Int { grids.count }
    public func caseID(_ caseIndex: Int) -> String { grids[caseIndex].id }
    public func cellCount(caseIndex: Int) -> Int { grids[caseIndex].cellCount }
    /// Bytes held (per case, not per cell): the grids, their ids and the offsets.
    public var memoryBytes: Int {
        grids.count * MemoryLayout<Grid>.stride + offsets.count * MemoryLayout<Int>.stride
            + grids.reduce(0) { $0 + $1.id.utf8.count }
    }

    public init(cases: [Case], patchSize: Voxel3) throws {
        guard patchSize.x >= 1, patchSize.y >= 1, patchSize.z >= 1 else {
            throw SamplerError.invalidOption(option: "patch_size", value: "\(patchSize)", allowed: "three integers ≥ 1")
        }
        guard !cases.isEmpty else { throw SamplerError.invalidCase(caseID: "-", reason: "no cases to tile into patch cells") }
        self.patchSize = patchSize
        var grids = [Grid](), offsets = [0]
        for c in cases {
            let s = c.shape
            guard s.x >= 1, s.y >= 1, s.z >= 1 else {
                throw SamplerError.invalidCase(caseID: c.id, reason: "volume shape \(s) must be ≥ 1 on every axis")
            }
            let (lo, hi) = c.foreground ?? (Voxel3(0, 0, 0), s)
            var cells = [0, 0, 0]
            for a in 0 ..< 3 {
                guard lo[a] >= 0, lo[a] < hi[a], hi[a] <= s[a] else {
                    throw SamplerError.invalidCase(caseID: c.id, reason:
                        "foreground box \(lo)..<\(hi) is invalid on axis \("xyz".map { $0 }[a]): need 0 ≤ lower < upper ≤ shape \(s[a])")
                }
                cells[a] = (hi[a] - lo[a] + patchSize[a] - 1) / patchSize[a]
            }
            let g = Grid(id: c.id, shape: s, lower: lo, cells: Voxel3(cells[0], cells[1], cells[2]))
            grids.append(g)
            offsets.append(offsets[offsets.count - 1] + g.cellCount)
        }
        self.grids = grids
        self.offsets = offsets
    }

    /// Origin along one axis of cell k (see the tiling rule above).
    @inline(__always) private func origin(_ k: Int, axis a: Int, _ g: Grid) -> Int {
        Swift.max(0, Swift.min(g.lower[a] + k * patchSize[a], g.shape[a] - patchSize[a]))
    }

    /// The case and cell origin of sample `index`; nil when out of range.
    public func cell(_ index: Int) -> (caseIndex: Int, origin: Voxel3)? {
        guard index >= 0, index < count else { return nil }
        var lo = 0, hi = grids.count - 1  // largest c with offsets[c] ≤ index
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if offsets[mid] <= index { lo = mid } else { hi = mid - 1 }
        }
        let g = grids[lo]
        let local = index - offsets[lo]
        let k = [local % g.cells.x, (local / g.cells.x) % g.cells.y, local / (g.cells.x * g.cells.y)]
        return (lo, Voxel3(origin(k[0], axis: 0, g), origin(k[1], axis: 1, g), origin(k[2], axis: 2, g)))
    }

    /// The sample index of the cell of case `caseIndex` whose origin is `origin`; nil if none.
    public func index(caseIndex: Int, origin o: Voxel3) -> Int? {
        guard caseIndex >= 0, caseIndex < grids.count else { return nil }
        let g = grids[caseIndex]
        var k = [0, 0, 0]
        for a in 0 ..< 3 {
            let n = g.cells[a], d = o[a] - g.lower[a]
            if d >= 0, d % patchSize[a] == 0, d / patchSize[a] < n, origin(d / patchSize[a], axis: a, g) == o[a] {
                k[a] = d / patchSize[a]
            } else if origin(n - 1, axis: a, g) == o[a] {
                k[a] = n - 1
            } else {
                return nil
            }
        }
        return offsets[caseIndex] + k[0] + g.cells.x * (k[1] + g.cells.y * k[2])
    }
}
