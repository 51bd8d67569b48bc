// Conversions between the data pipeline's D×H×W types and Sampling's x-fastest `Voxel3`, so
// the trainer can build `PatchCells` from cases and turn a drawn cell back into a patch origin.

import Sampling

extension GridPoint {
    /// From Sampling's (x, y, z): d = z, h = y, w = x.
    public init(_ v: Voxel3) { self.init(d: v.z, h: v.y, w: v.x) }
    public var voxel3: Voxel3 { Voxel3(w, h, d) }
}

extension GridShape {
    public init(_ v: Voxel3) { self.init(d: v.z, h: v.y, w: v.x) }
    public var voxel3: Voxel3 { Voxel3(w, h, d) }
}

extension CaseVolume {
    /// This case as Sampling's `PatchCells.Case`: its grid and foreground bounding box.
    public var patchCellCase: PatchCells.Case {
        PatchCells.Case(id: id, shape: shape.voxel3,
                        foreground: foregroundBoundingBox.map { ($0.lower.voxel3, $0.upper.voxel3) })
    }
}

extension CaseStore {
    /// Every case as Sampling's `PatchCells.Case`, without loading cases kept on disk.
    public var patchCellCases: [PatchCells.Case] {
        entries.map { entry in
            PatchCells.Case(id: entry.id, shape: entry.shape.voxel3,
                            foreground: entry.foregroundBox.map { ($0.lower.voxel3, $0.upper.voxel3) })
        }
    }
}
