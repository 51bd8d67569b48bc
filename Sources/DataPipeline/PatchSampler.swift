// Where patches are taken from a case (nnU-Net's `nnUNetDataLoader.get_bbox`).
//
// A patch is the box [origin, origin + patchSize) of the case grid; voxels outside the grid are
// padding (image 0 after z-score, label 0). Per axis with n voxels and patch p, the padding
// needed is pad = max(0, p − n) and origins range over
//     lower = −⌈pad/2⌉ … upper = n + ⌈pad/2⌉ − p        (inclusive)
// so a case smaller than the patch sits centred in it, ±½ voxel (nnU-Net's `lbs`/`ubs`).

public struct PatchSampler: Sendable {
    public let patchSize: GridShape

    public init(patchSize: GridShape) throws {
        guard !patchSize.isEmpty else {
            throw DataError.invalidOption(key: "patch_size", value: "\(patchSize)", allowed: "all extents ≥ 1")
        }
        self.patchSize = patchSize
    }

    /// Inclusive range of patch origins for a case of `shape`.
    public func originRange(for shape: GridShape) -> (lower: GridPoint, upper: GridPoint) {
        var lo = GridPoint.zero, hi = GridPoint.zero
        for a in 0..<3 {
            let pad = max(0, patchSize[a] - shape[a])
            let half = (pad + 1) / 2
            lo[a] = -half
            hi[a] = shape[a] + half - patchSize[a]
        }
        return (lo, hi)
    }

    /// Uniformly random origin in `originRange`.
    public func randomOrigin(for shape: GridShape, using rng: inout some RandomNumberGenerator) -> GridPoint {
        let (lo, hi) = originRange(for: shape)
        var p = GridPoint.zero
        for a in 0..<3 { p[a] = Int.random(in: lo[a]...hi[a], using: &rng) }
        return p
    }

    /// nnU-Net's forced foreground: a class drawn uniformly among the present foreground classes,
    /// a voxel drawn uniformly among its (stored) locations, and the patch placed with that voxel
    /// at index patchSize/2 — origin = voxel − patchSize/2, raised to `originRange.lower` (as in
    /// nnU-Net, not lowered to the upper bound: the patch may then reach past the grid's end and
    /// be padded). Nil when the case has no foreground.
    public func foregroundOrigin(_ fg: ForegroundIndex,
                                 using rng: inout some RandomNumberGenerator) -> (origin: GridPoint, voxel: GridPoint, label: UInt8)? {
        guard !fg.isEmpty else { return nil }
        let k = Int.random(in: 0..<fg.classes.count, using: &rng)
        let list = fg.locations[k]
        let voxel = fg.shape.point(ofIndex: Int(list[Int.random(in: 0..<list.count, using: &rng)]))
        let lo = originRange(for: fg.shape).lower
        var p = GridPoint.zero
        for a in 0..<3 { p[a] = max(lo[a], voxel[a] - patchSize[a] / 2) }
        return (p, voxel, fg.classes[k])
    }

    /// Origin for one patch: forced foreground when asked and the case has foreground (a case
    /// without label or foreground falls back to a random origin, as nnU-Net does).
    public func origin(for c: CaseVolume, forceForeground: Bool,
                       using rng: inout some RandomNumberGenerator) -> GridPoint {
        if forceForeground, let fg = c.foreground, let r = foregroundOrigin(fg, using: &rng) {
            return r.origin
        }
        return randomOrigin(for: c.shape, using: &rng)
    }

    /// Origin for a patch cell (`sampler.unit: patch`, Sampling's `PatchCells`: cells are
    /// patch-sized boxes [cellOrigin, cellOrigin + patchSize)). The patch is the cell shifted by
    /// an integer offset drawn uniformly in [−⌊j·p/2⌋, ⌊j·p/2⌋] per axis (j = `jitter`): with
    /// j = 1 the patch centre falls anywhere in the cell, with j = 0 the patch is the cell. The
    /// result is clamped into `originRange`, so it never needs more padding than a random patch.
    public func origin(cellOrigin: GridPoint, shape: GridShape, jitter: Double = 1,
                       using rng: inout some RandomNumberGenerator) throws -> GridPoint {
        guard jitter >= 0, jitter <= 1 else {
            throw DataError.invalidOption(key: "patch_jitter", value: "\(jitter)", allowed: "a fraction in [0, 1]")
        }
        let (lo, hi) = originRange(for: shape)
        var p = GridPoint.zero
        for a in 0..<3 {
            guard cellOrigin[a] > -patchSize[a], cellOrigin[a] < shape[a] else {
                throw DataError.invalidOption(key: "patch cell origin", value: "\(cellOrigin)",
                                              allowed: "a cell overlapping the case grid \(shape)")
            }
            let j = Int((jitter * Double(patchSize[a]) / 2).rounded(.down))
            let offset = j > 0 ? Int.random(in: -j...j, using: &rng) : 0
            p[a] = min(hi[a], max(lo[a], cellOrigin[a] + offset))
        }
        return p
    }

    /// Which samples of a batch of `batchSize` are forced to foreground: the last
    /// max(1, round(batchSize · fraction)) when fraction > 0 (nnU-Net forces the last
    /// round(B · 0.33); "at least one" keeps batch size 1 from never forcing), none when 0.
    public static func forcedForeground(batchSize: Int, fraction: Double) -> [Bool] {
        guard fraction > 0, batchSize > 0 else { return [Bool](repeating: false, count: max(0, batchSize)) }
        let forced = min(batchSize, max(1, Int((Double(batchSize) * fraction).rounded())))
        return (0..<batchSize).map { $0 >= batchSize - forced }
    }
}
