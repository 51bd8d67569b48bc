import NIfTI

/// A 3D integer label volume read from NIfTI, with its geometry.
struct LabelVolume {
    /// Tolerance on affine entries when checking that prediction and ground truth share a grid
    /// (mm; the 1e-4 mm — NIfTI affines are float32 on disk, docs/method.md §5.6).
    static let affineTolerance = 1e-4
    /// Largest label value accepted: uint16's range, the widest label datatype a prediction is
    /// written in (docs/method.md §7). Per-label tables are sized by the largest value present.
    static let maxLabelValue: Int32 = 65535

    let path: String
    let shape: [Int]
    let affine: [[Double]]
    let spacing: [Double]
    let labels: [Int32]
    /// Largest label value present (0 when empty).
    let maxLabel: Int

    static func read(_ path: String) throws -> LabelVolume {
        let image: NIfTIImage
        do { image = try NIfTIImage.read(path: path) } catch {
            throw EvaluationError.unreadable(path: path, reason: "\(error)")
        }
        var shape = image.shape
        while shape.count > 3 && shape.last == 1 { shape.removeLast() }
        while shape.count < 3 { shape.append(1) }
        guard shape.count == 3 else { throw EvaluationError.notAVolume(path: path, shape: image.shape) }
        // Distances are in mm: a zero or non-finite voxel size (a broken sform/qform/pixdim) would
        // turn every surface distance into 0 or nan without a word.
        let spacing = image.spacing
        guard spacing.prefix(3).allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw EvaluationError.invalidSpacing(path: path, spacing: Array(spacing.prefix(3)))
        }
        let values = image.floatValues()
        var labels = [Int32](repeating: 0, count: values.count)
        var maxLabel: Int32 = 0
        for (i, v) in values.enumerated() {
            let l = Int32(exactly: v)
            guard let l, l >= 0 else { throw EvaluationError.nonIntegerLabel(path: path, value: Double(v)) }
            if l > maxLabelValue {
                throw EvaluationError.labelTooLarge(path: path, value: Int(l), allowed: Int(maxLabelValue))
            }
            labels[i] = l
            if l > maxLabel { maxLabel = l }
        }
        return LabelVolume(path: path, shape: shape, affine: image.affine, spacing: spacing,
                           labels: labels, maxLabel: Int(maxLabel))
    }

    /// Throws `geometryMismatch` naming the case when `other` is not on this volume's grid.
    func checkSameGrid(as other: LabelVolume, caseID: String) throws {
        if shape != other.shape {
            throw EvaluationError.geometryMismatch(caseID: caseID, field: "shape",
                                                   gt: "\(shape)", pred: "\(other.shape)")
        }
        for r in 0..<min(4, affine.count) {
            for c in 0..<min(4, affine[r].count)
            where abs(affine[r][c] - other.affine[r][c]) > LabelVolume.affineTolerance
                || affine[r][c].isNaN != other.affine[r][c].isNaN {
                throw EvaluationError.geometryMismatch(
                    caseID: caseID, field: "affine[\(r)][\(c)]",
                    gt: "\(affine[r][c])", pred: "\(other.affine[r][c])")
            }
        }
    }
}

/// Intensity image for slice overlays (first channel).
struct IntensityVolume {
    let shape: [Int]
    let values: [Float]

    static func read(_ path: String) throws -> IntensityVolume {
        let image: NIfTIImage
        do { image = try NIfTIImage.read(path: path) } catch {
            throw EvaluationError.unreadable(path: path, reason: "\(error)")
        }
        guard image.shape.count >= 3 else { throw EvaluationError.notAVolume(path: path, shape: image.shape) }
        let shape = Array(image.shape[0..<3])
        let n = shape[0] * shape[1] * shape[2]
        return IntensityVolume(shape: shape, values: Array(image.floatValues().prefix(n)))
    }
}
