import Foundation
import NIfTI

/// One case in memory, ready for preprocessing: every channel and the label on one grid.
public struct LoadedCase: Sendable {
    public var id: String
    public var group: String?
    /// Spatial shape [nx, ny, nz] (NIfTI order; as a tensor D×H×W = nz×ny×nx, W fastest).
    public var shape: [Int]
    /// Voxel size in mm (x, y, z): column norms of the affine's 3×3.
    public var spacing: [Double]
    /// 4×4 affine of the first image (rows); every other file agrees within the tolerance.
    public var affine: [[Double]]
    public var channels: Int
    /// C×D×H×W: channel c occupies [c·voxelCount, (c+1)·voxelCount), x fastest.
    public var image: [Float]
    /// D×H×W label values in 0..<classes; nil for a case without a label (test images).
    public var label: [Int32]?

    public var voxelCount: Int { shape.reduce(1, *) }
}

/// Reads a case's files and checks that they fit together. The same code serves training
/// (`load`, which throws on the first case with problems) and the dry run (`read`, which
/// collects every problem of the case).
public enum CaseLoader {
    /// Affines of one case must agree to 1e-4 mm: NIfTI stores them as float32, so the same
    /// geometry written by two tools can differ by ~1e-5 mm (0.7 reads back as 0.69999999),
    /// while a genuine misregistration is far larger.
    public static let affineTolerance = 1e-4

    /// Loads a case; throws `DatasetError` listing all of its problems.
    public static func load(_ files: CaseFiles, channels: Int, classes: Int) throws -> LoadedCase {
        let (loaded, problems) = read(files, channels: channels, classes: classes)
        guard let loaded, problems.isEmpty else { throw DatasetError(problems) }
        return loaded
    }

    /// Reads and checks every file of a case: the images and label exist and are NIfTI, every
    /// file has the first image's spatial shape and affine, a multi-channel file holds one
    /// volume per channel, intensities are finite and label values are in 0..<classes.
    public static func read(_ files: CaseFiles, channels: Int, classes: Int) -> (LoadedCase?, [DatasetProblem]) {
        var problems: [DatasetProblem] = []
        let id = files.id
        var reference: (path: String, shape: [Int], affine: [[Double]])?
        var image: [Float] = []

        func fits(_ path: String, _ shape: [Int], _ affine: [[Double]]) -> Bool {
            guard let ref = reference else { reference = (path, shape, affine); return true }
            if shape != ref.shape {
                problems.append(.shapeMismatch(caseID: id, path: path, shape: shape,
                                               reference: fileName(ref.path), referenceShape: ref.shape))
                return false
            }
            let difference = maxAffineDifference(affine, ref.affine)
            if !(difference <= affineTolerance) {
                problems.append(.affineMismatch(caseID: id, path: path, maxDifference: difference,
                                                reference: fileName(ref.path), tolerance: affineTolerance))
            }
            return true
        }

        for path in files.channelPaths {
            guard let nifti = readNIfTI(path, id: id, problems: &problems) else { continue }
            let shape = trimmedShape(nifti.shape)
            let expectedChannels = files.multiChannelFile ? channels : 1
            let spatial = Array(shape.prefix(3))
            let fileChannels = shape.count == 4 ? shape[3] : 1
            guard shape.count == 3 || (shape.count == 4 && files.multiChannelFile), fileChannels == expectedChannels else {
                let expected = expectedChannels == 1 ? "a 3-D volume" : "a 4-D volume with \(expectedChannels) channels (nx×ny×nz×\(expectedChannels))"
                problems.append(.dimensions(caseID: id, path: path, found: shape, expected: expected))
                continue
            }
            guard fits(path, spatial, nifti.affine) else { continue }
            let values = nifti.floatValues()
            let bad = values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            if bad > 0 { problems.append(.nonFinite(caseID: id, path: path, count: bad)) }
            image += values
        }

        var label: [Int32]?
        if let path = files.labelPath, let nifti = readNIfTI(path, id: id, problems: &problems) {
            let shape = trimmedShape(nifti.shape)
            if shape.count != 3 {
                problems.append(.dimensions(caseID: id, path: path, found: shape, expected: "a 3-D label map"))
            } else if fits(path, shape, nifti.affine) {
                label = checkedLabels(nifti.floatValues(), classes: classes, id: id, path: path, problems: &problems)
            }
        }
        guard let ref = reference, image.count == ref.shape.reduce(1, *) * channels else { return (nil, problems) }
        let loaded = LoadedCase(id: id, group: files.group, shape: ref.shape, spacing: spacingOf(ref.affine),
                                affine: ref.affine, channels: channels, image: image, label: label)
        return (loaded, problems)
    }

    private static func readNIfTI(_ path: String, id: String, problems: inout [DatasetProblem]) -> NIfTIImage? {
        guard DatasetFiles.fileExists(path) else { return nil }   // reported by discovery
        do {
            return try NIfTIImage.read(path: path)
        } catch {
            problems.append(.unreadable(caseID: id, path: path, reason: "\(error)"))
            return nil
        }
    }

    /// Label values as integers; non-integral or undeclared values are reported (distinct
    /// values, smallest first, at most `shownValues`).
    static let shownValues = 8
    private static func checkedLabels(_ values: [Float], classes: Int, id: String, path: String,
                                      problems: inout [DatasetProblem]) -> [Int32]? {
        var out = [Int32](repeating: 0, count: values.count)
        var bad = Set<Float>()
        for (i, v) in values.enumerated() {
            if v == v.rounded(), v >= 0, v < Float(classes) { out[i] = Int32(v) } else { bad.insert(v) }
        }
        guard bad.isEmpty else {
            let sorted = bad.sorted { ($0.isNaN ? Float.infinity : $0) < ($1.isNaN ? Float.infinity : $1) }
            var shown = sorted.prefix(shownValues).map { formatLabelValue($0) }
            if sorted.count > shownValues { shown.append("… (\(sorted.count) distinct)") }
            problems.append(.labelValues(caseID: id, path: path, found: shown,
                                         allowed: "integers 0…\(classes - 1) (the declared labels)"))
            return nil
        }
        return out
    }
}

/// Drops trailing singleton dimensions beyond the third ([64, 64, 64, 1] → [64, 64, 64]).
private func trimmedShape(_ shape: [Int]) -> [Int] {
    var s = shape
    while s.count > 3, s.last == 1 { s.removeLast() }
    return s
}

/// Largest absolute difference over the top three rows of two 4×4 affines (mm).
private func maxAffineDifference(_ a: [[Double]], _ b: [[Double]]) -> Double {
    var worst = 0.0
    for r in 0..<3 { for c in 0..<4 { worst = max(worst, abs(a[r][c] - b[r][c])) } }
    return worst
}

/// Column norms of the affine's 3×3 (x, y, z spacing in mm).
private func spacingOf(_ affine: [[Double]]) -> [Double] {
    (0..<3).map { c in (0..<3).map { affine[$0][c] * affine[$0][c] }.reduce(0, +).squareRoot() }
}

private func fileName(_ path: String) -> String { URL(fileURLWithPath: path).lastPathComponent }

private func formatLabelValue(_ v: Float) -> String {
    if v.isFinite && v == v.rounded() && abs(v) < 1e9 { return String(Int(v)) }
    return "\(v)"
}
