// nnU-Net's preprocessing for MRI, in its order, after bringing the case to the closest-RAS axis
// order (exact reordering, see NIfTI/Orientation.swift): crop to the non-zero box, z-score each
// channel inside the non-zero mask, resample to a target spacing (optional).

import NIfTI

/// What `Preprocessor.preprocess` does.
public struct PreprocessingOptions: Codable, Equatable, Sendable {
    /// Crop to the bounding box of the non-zero mask (all channels, holes filled).
    public var cropToNonzero: Bool = true
    /// Z-score each channel; inside the non-zero mask when `normalizeInsideMask`, else everywhere.
    public var zScore: Bool = true
    public var normalizeInsideMask: Bool = true
    /// Resample to this spacing (x, y, z mm); nil keeps the grid.
    public var targetSpacing: Spacing? = nil
    /// Max/min spacing ratio above which the thick axis is resampled with nearest neighbour.
    public var anisotropyThreshold: Double = defaultAnisotropyThreshold
    /// Reorder every case to the closest-RAS axis order and directions first (exact; undone on
    /// predictions), so cases stored in different orientations train on consistent anatomy.
    /// On for every new run; checkpoints written before it existed read as off, so their
    /// networks keep seeing cases as stored.
    public var reorient: Bool = true

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case cropToNonzero, zScore, normalizeInsideMask, targetSpacing, anisotropyThreshold, reorient
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cropToNonzero = try c.decode(Bool.self, forKey: .cropToNonzero)
        zScore = try c.decode(Bool.self, forKey: .zScore)
        normalizeInsideMask = try c.decode(Bool.self, forKey: .normalizeInsideMask)
        targetSpacing = try c.decodeIfPresent(Spacing.self, forKey: .targetSpacing)
        anisotropyThreshold = try c.decode(Double.self, forKey: .anisotropyThreshold)
        reorient = try c.decodeIfPresent(Bool.self, forKey: .reorient) ?? false
    }

    public func validate() throws {
        if let t = targetSpacing {
            for (k, v) in [("x", t.x), ("y", t.y), ("z", t.z)] where !(v > 0 && v.isFinite) {
                throw DataError.invalidOption(key: "preprocessing.target_spacing.\(k)", value: "\(v)",
                                              allowed: "finite value > 0 mm")
            }
        }
        guard anisotropyThreshold >= 1, anisotropyThreshold.isFinite else {
            throw DataError.invalidOption(key: "preprocessing.anisotropy_threshold",
                                          value: "\(anisotropyThreshold)", allowed: "finite value ≥ 1")
        }
    }
}

public enum Preprocessor {
    /// Preprocesses a case read from disk (its grid must be its original grid). Labels follow
    /// the crop and are resampled with nearest neighbour. The returned case records the
    /// original grid and crop box in `geometry` and the z-score statistics in `intensityStats`.
    public static func preprocess(_ raw: CaseVolume, options: PreprocessingOptions) throws -> CaseVolume {
        try options.validate()
        guard raw.shape == raw.geometry.originalShape, raw.geometry.cropBox == GridBox(covering: raw.shape),
              raw.intensityStats == nil else {
            throw DataError.invalidOption(key: "case \(raw.id)", value: "already preprocessed",
                                          allowed: "a case as read from its files")
        }
        var shape = raw.shape, image = raw.image, label = raw.label, affine = raw.affine, spacing = raw.spacing
        var geometry = raw.geometry
        if options.reorient {
            let orientation = AxisOrientation.closestRAS(affine)
            if !orientation.isIdentity {
                let file = shape.niftiShape
                image = orientation.toCanonical(image, channels: raw.channels, fileShape: file)
                label = label.map { orientation.toCanonical($0, channels: 1, fileShape: file) }
                affine = orientation.canonicalAffine(affine, fileShape: file)
                shape = GridShape(niftiShape: orientation.canonicalShape(file))
                geometry.orientation = orientation
                spacing = geometry.canonicalSpacing
            }
        }
        var box = GridBox(covering: shape)
        let fullMask = Cropping.nonzeroMask(image, channels: raw.channels, shape: shape)
        var mask = fullMask
        if options.cropToNonzero {
            // An all-zero image keeps its whole grid (nothing to crop to).
            if let b = Cropping.boundingBox(fullMask, shape: shape), b != box {
                box = b
                image = Cropping.crop(image, channels: raw.channels, shape: shape, box: b)
                label = label.map { Cropping.crop($0, channels: 1, shape: shape, box: b) }
                mask = Cropping.crop(fullMask, channels: 1, shape: shape, box: b)
                affine = Affine.subgrid(affine, offset: [b.lower.w, b.lower.h, b.lower.d].map(Double.init),
                                        step: [1, 1, 1])
                shape = b.shape
            }
        }
        var stats: [ChannelStats]? = nil
        if options.zScore {
            let r = Normalization.zScore(image, channels: raw.channels, count: shape.count,
                                         mask: options.normalizeInsideMask ? mask : nil)
            image = r.image
            stats = r.stats
        }
        if let target = options.targetSpacing {
            let newShape = try Resampler.checkedShape(shape, from: spacing, to: target, caseID: raw.id)
            if newShape != shape {
                let modes = Resampler.imageModes(current: spacing, target: target,
                                                 threshold: options.anisotropyThreshold)
                image = Resampler.resample(image, channels: raw.channels, from: shape, to: newShape, modes: modes)
                label = label.map { Resampler.resampleLabels($0, from: shape, to: newShape) }
                affine = Resampler.affine(affine, from: shape, to: newShape)
                // The actual spacing: the box is kept, so rounding the shape changes it slightly.
                for a in 0..<3 { spacing[axis: a] *= Double(shape[a]) / Double(newShape[a]) }
                shape = newShape
            }
        }
        geometry.cropBox = box
        return try CaseVolume(id: raw.id, channels: raw.channels, shape: shape, image: image, label: label,
                              spacing: spacing, affine: affine, geometry: geometry,
                              intensityStats: stats, group: raw.group)
    }
}

/// Puts predictions made on a preprocessed grid back on the case's original grid (inverse of
/// resampling, then of cropping). Resampling back uses the same pixel-centre map, so it is the
/// inverse only up to interpolation; un-cropping is exact.
public enum PredictionRestorer {
    /// Label map on the current grid (`shape`) → label map on `geometry.originalShape`, 0 outside
    /// the crop box. Nearest neighbour; the reorientation is undone exactly.
    public static func restoreLabels(_ labels: [UInt8], shape: GridShape,
                                     geometry: CaseGeometry) throws -> [UInt8] {
        guard labels.count == shape.count else {
            throw DataError.sizeMismatch(caseID: "prediction", field: "labels", found: labels.count,
                                         expected: shape.count)
        }
        let cropped = geometry.cropBox.shape
        let back = shape == cropped ? labels : Resampler.resampleLabels(labels, from: shape, to: cropped)
        let canonical = Cropping.uncrop(back, channels: 1, box: geometry.cropBox, into: geometry.canonicalShape,
                                        fill: [0])
        return geometry.orientation.toFile(canonical, channels: 1, fileShape: geometry.originalShape.niftiShape)
    }

    /// K×`shape` class probabilities → K×original shape. Linear interpolation (nearest along a
    /// thick axis as in preprocessing, given the current `spacing`); outside the crop box the
    /// background (class 0) has probability 1.
    public static func restoreProbabilities(_ p: [Float], classes: Int, shape: GridShape, spacing: Spacing,
                                            geometry: CaseGeometry,
                                            anisotropyThreshold: Double = defaultAnisotropyThreshold) throws -> [Float] {
        guard classes >= 1, p.count == classes * shape.count else {
            throw DataError.sizeMismatch(caseID: "prediction", field: "probabilities", found: p.count,
                                         expected: max(classes, 1) * shape.count)
        }
        let cropped = geometry.cropBox.shape
        var back = p
        if shape != cropped {
            let modes = Resampler.imageModes(current: spacing, target: geometry.canonicalSpacing,
                                             threshold: anisotropyThreshold)
            back = Resampler.resample(p, channels: classes, from: shape, to: cropped, modes: modes)
        }
        var fill = [Float](repeating: 0, count: classes)
        fill[0] = 1
        let canonical = Cropping.uncrop(back, channels: classes, box: geometry.cropBox,
                                        into: geometry.canonicalShape, fill: fill)
        return geometry.orientation.toFile(canonical, channels: classes, fileShape: geometry.originalShape.niftiShape)
    }
}
