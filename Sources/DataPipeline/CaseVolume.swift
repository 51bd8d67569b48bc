// One case held in memory: image channels, optional label map, geometry, and the record needed
// to put a prediction back on the grid the case was read from.

import NIfTI

/// Per-channel intensity statistics used by z-score normalisation (kept for the record).
public struct ChannelStats: Hashable, Codable, Sendable {
    public var mean: Double
    public var std: Double
    public init(mean: Double, std: Double) { self.mean = mean; self.std = std }
}

/// Where the current grid of a case came from: the original (file) grid and the crop applied
/// to it. Resampling, if any, maps the cropped box onto the current grid with pixel centres
/// aligned (see `Resampler`). Inference uses this to restore predictions (`PredictionRestorer`).
public struct CaseGeometry: Hashable, Codable, Sendable {
    public var originalShape: GridShape
    public var originalSpacing: Spacing
    /// 4×4 row-major voxel-to-mm affine of the original grid (NIfTI order i=x, j=y, k=z).
    public var originalAffine: [[Double]]
    /// How the file grid was reordered to the canonical (closest-RAS) grid before cropping;
    /// the identity when it was stored that way or not reoriented.
    public var orientation: AxisOrientation
    /// Box of the canonical grid kept by cropping; the whole grid when not cropped.
    public var cropBox: GridBox

    public init(originalShape: GridShape, originalSpacing: Spacing, originalAffine: [[Double]],
                orientation: AxisOrientation = .identity, cropBox: GridBox? = nil) {
        self.originalShape = originalShape
        self.originalSpacing = originalSpacing
        self.originalAffine = originalAffine
        self.orientation = orientation
        self.cropBox = cropBox ?? GridBox(covering: originalShape)
    }

    /// The original grid after reorientation (what the crop box refers to).
    public var canonicalShape: GridShape {
        GridShape(niftiShape: orientation.canonicalShape(originalShape.niftiShape))
    }

    /// The original voxel size along the canonical axes (x, y, z).
    public var canonicalSpacing: Spacing {
        let file = [originalSpacing.x, originalSpacing.y, originalSpacing.z]
        return Spacing(orientation.source.map { file[$0] })
    }

    private enum CodingKeys: String, CodingKey { case originalShape, originalSpacing, originalAffine, orientation, cropBox }

    /// Geometry recorded before reorientation existed (case caches) reads as not reoriented.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        originalShape = try c.decode(GridShape.self, forKey: .originalShape)
        originalSpacing = try c.decode(Spacing.self, forKey: .originalSpacing)
        originalAffine = try c.decode([[Double]].self, forKey: .originalAffine)
        orientation = try c.decodeIfPresent(AxisOrientation.self, forKey: .orientation) ?? .identity
        cropBox = try c.decode(GridBox.self, forKey: .cropBox)
    }
}

/// A case in memory. Image: C×D×H×W Float; label: D×H×W UInt8 (0 = background), or nil for a
/// case without reference (inference). Values are immutable: every pipeline stage returns a new
/// case, so the foreground index built at initialisation always matches the label.
public struct CaseVolume: Sendable {
    public let id: String
    public let channels: Int
    /// Current grid (after any crop / resampling).
    public let shape: GridShape
    public let image: [Float]
    public let label: [UInt8]?
    /// Voxel size of the current grid, (x, y, z) mm.
    public let spacing: Spacing
    /// Voxel-to-mm affine of the current grid.
    public let affine: [[Double]]
    /// Original grid and crop, for un-cropping / un-resampling predictions.
    public let geometry: CaseGeometry
    /// Z-score statistics per channel once normalised; nil for raw intensities.
    public let intensityStats: [ChannelStats]?
    /// Optional group (e.g. "rare"), for per-group reports.
    public let group: String?
    /// Foreground voxel locations per class and bounding box; nil without a label.
    public let foreground: ForegroundIndex?

    /// Validates buffer sizes against the shape; `geometry` defaults to "this grid, uncropped".
    public init(id: String, channels: Int, shape: GridShape, image: [Float], label: [UInt8]?,
                spacing: Spacing, affine: [[Double]]? = nil, geometry: CaseGeometry? = nil,
                intensityStats: [ChannelStats]? = nil, group: String? = nil) throws {
        guard !shape.isEmpty else {
            throw DataError.invalidGeometry(caseID: id, field: "shape", value: "\(shape)",
                                            allowed: "all extents ≥ 1")
        }
        guard channels >= 1 else {
            throw DataError.invalidGeometry(caseID: id, field: "channels", value: "\(channels)",
                                            allowed: "≥ 1")
        }
        for (name, s) in [("spacing.x", spacing.x), ("spacing.y", spacing.y), ("spacing.z", spacing.z)]
        where !(s > 0 && s.isFinite) {
            throw DataError.invalidGeometry(caseID: id, field: name, value: "\(s)",
                                            allowed: "finite value > 0 mm")
        }
        guard image.count == channels * shape.count else {
            throw DataError.sizeMismatch(caseID: id, field: "image", found: image.count,
                                         expected: channels * shape.count)
        }
        if let label, label.count != shape.count {
            throw DataError.sizeMismatch(caseID: id, field: "label", found: label.count,
                                         expected: shape.count)
        }
        if let a = affine, !(a.count == 4 && a.allSatisfy { $0.count == 4 }) {
            throw DataError.invalidGeometry(caseID: id, field: "affine", value: "\(a)",
                                            allowed: "4×4 matrix")
        }
        if let stats = intensityStats, stats.count != channels {
            throw DataError.sizeMismatch(caseID: id, field: "intensityStats", found: stats.count,
                                         expected: channels)
        }
        let aff = affine ?? Affine.diagonal(spacing)
        self.id = id
        self.channels = channels
        self.shape = shape
        self.image = image
        self.label = label
        self.spacing = spacing
        self.affine = aff
        self.geometry = geometry ?? CaseGeometry(originalShape: shape, originalSpacing: spacing,
                                                 originalAffine: aff)
        self.intensityStats = intensityStats
        self.group = group
        self.foreground = label.map { ForegroundIndex(label: $0, shape: shape) }
    }

    /// Channel c as a D×H×W slice of `image`.
    public func channel(_ c: Int) -> ArraySlice<Float> {
        image[(c * shape.count)..<((c + 1) * shape.count)]
    }

    /// Bounding box of voxels with label > 0; nil without a label or without foreground.
    /// Used to build patch cells (`sampler.unit: patch`).
    public var foregroundBoundingBox: GridBox? { foreground?.boundingBox }
}
