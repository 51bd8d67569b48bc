// Synthetic T2-weighted brain phantoms with labels, deterministic from a seed.
//
// Labels: 0 background (also skull and scalp), 1 external_csf, 2 grey_matter, 3 white_matter,
// 4 ventricles, 5 deep_grey. Geometry: `PhantomAnatomy`. Image: tissue intensities of the case's
// protocol (each jittered ± 8 %), a one-voxel [1, 2, 1]/4 blur (partial volume), a smooth
// multiplicative bias field exp(b), Gaussian noise taken in magnitude inside the head, and a global
// scale; exactly 0 outside the head, so cropping to the non-zero box is meaningful.
// The rare group combines enlarged ventricles with another protocol (grey/white contrast
// inverted as in an immature brain, lower CSF contrast, stronger bias): the under-represented
// group of the robustness experiment.

import Common
import Tensor
import Foundation

public enum PhantomGenerator {
    /// Label names as written to dataset.json, index = label value.
    public static let labelNames = ["background", "external_csf", "grey_matter", "white_matter",
                                    "ventricles", "deep_grey"]
    public static let commonGroup = "common"
    public static let rareGroup = "rare"
    /// 64³ voxels of 1.2 mm: a 77 mm field of view, small enough to train on 2 cores.
    public static let defaultShape = GridShape(cube: 64)
    public static let defaultSpacing = Spacing(isotropic: 1.2)

    /// The grid that keeps the default field of view (64 × 1.2 mm = 76.8 mm per axis) at
    /// `spacing`: round(76.8 / spacing) voxels per axis, at least 8. The default spacing gives 64³.
    public static func shape(forSpacing spacing: Spacing) -> GridShape {
        func n(_ s: Double) -> Int {
            let fov = Double(defaultShape.w) * defaultSpacing.x
            return max(8, Int((fov / s).rounded()))
        }
        return GridShape(d: n(spacing.z), h: n(spacing.y), w: n(spacing.x))
    }

    /// Mean intensity per `PhantomTissue` (background, CSF, GM, WM, ventricles, deep grey,
    /// skull, scalp). Common protocol: T2-like ordering CSF > GM > deep grey > WM, dark skull.
    static let commonContrast: [Double] = [0, 1.00, 0.62, 0.42, 1.00, 0.52, 0.08, 0.55]
    /// Rare protocol: the T2 contrast of an immature brain (fetal / neonatal: unmyelinated white
    /// matter brighter than the cortex, deep grey darkest), CSF still brightest but less so
    /// against the tissue than in the common protocol.
    static let rareContrast: [Double] = [0, 0.90, 0.46, 0.68, 0.90, 0.40, 0.10, 0.70]

    /// One case. `rare` selects enlarged ventricles and the rare protocol.
    public static func makeCase(id: String, rare: Bool, shape: GridShape = defaultShape,
                                spacing: Spacing = defaultSpacing,
                                using rng: inout some RandomNumberGenerator) throws -> CaseVolume {
        let halfFOV = (0..<3).map { Double(shape[$0]) * spacing[axis: $0] / 2 }
        let radius = halfFOV.min() ?? 1
        let anatomy = PhantomAnatomy(rare: rare, radius: radius, using: &rng)
        let base = rare ? rareContrast : commonContrast
        let means = base.map { $0 * rng.uniform(0.92, 1.08) }
        let scale = rng.uniform(400, 1200)
        let biasWaves = (0..<3).map { _ in
            PlaneWave(wavelength: radius * rng.uniform(1.5, 3), amplitude: rare ? 0.12 : 0.07, using: &rng)
        }
        let noiseSigma = Float(rng.uniform(0.015, 0.04))

        var label = [UInt8](repeating: 0, count: shape.count)
        var image = [Float](repeating: 0, count: shape.count)
        var positions = [SIMD3<Double>]()
        positions.reserveCapacity(shape.count)
        var i = 0
        for z in 0..<shape.d {
            for y in 0..<shape.h {
                for x in 0..<shape.w {
                    let p = SIMD3((Double(x) - Double(shape.w - 1) / 2) * spacing.x,
                                  (Double(y) - Double(shape.h - 1) / 2) * spacing.y,
                                  (Double(z) - Double(shape.d - 1) / 2) * spacing.z)
                    let t = anatomy.tissue(at: p)
                    label[i] = t.label
                    image[i] = Float(means[t.rawValue])
                    positions.append(p)
                    i += 1
                }
            }
        }
        image = DisplacementField.binomialSmooth(image, shape: shape)
        var noise = [Float](repeating: 0, count: shape.count)
        rng.fillNormal(&noise, sigma: noiseSigma)
        for j in 0..<shape.count where image[j] > 0 {
            let p = positions[j]
            let bias = exp(biasWaves[0](p) + biasWaves[1](p) + biasWaves[2](p))
            image[j] = abs(image[j] * Float(bias) + noise[j]) * Float(scale)
        }
        return try CaseVolume(id: id, channels: 1, shape: shape, image: image, label: label, spacing: spacing,
                              group: rare ? rareGroup : commonGroup)
    }

    /// Which of `count` cases are rare: exactly round(count · fraction) of them, at positions
    /// drawn by a seeded shuffle.
    public static func rareAssignment(count: Int, fraction: Double,
                                      using rng: inout some RandomNumberGenerator) -> [Bool] {
        let k = min(count, max(0, Int((Double(count) * fraction).rounded())))
        var flags = (0..<count).map { $0 < k }
        flags.shuffle(using: &rng)
        return flags
    }

    /// Case identifiers: prefix + zero-padded index (at least 3 digits).
    public static func caseIDs(prefix: String, count: Int) -> [String] {
        let width = max(3, String(max(count - 1, 0)).count)
        return (0..<count).map { i in
            let s = String(i)
            return prefix + String(repeating: "0", count: max(0, width - s.count)) + s
        }
    }

    /// Random streams: case i of split `split` (0 train, 1 test) and each split's group draw
    /// have their own seed, so case i does not depend on how many cases are made.
    static func caseSeed(_ seed: UInt64, split: UInt64, index: Int) -> UInt64 {
        SplitMix64.derive(seed, stream: (split << 40) | UInt64(index))
    }
    static func groupSeed(_ seed: UInt64, split: UInt64) -> UInt64 {
        SplitMix64.derive(seed, stream: (split << 40) | (1 << 39))
    }

    /// `count` cases in memory (split 0 = training "phantom_", 1 = test "phantom_ts_").
    public static func makeCases(count: Int, rareFraction: Double, seed: UInt64, split: Int = 0,
                                 shape: GridShape = defaultShape, spacing: Spacing = defaultSpacing) throws -> [CaseVolume] {
        try validate(count: count, fraction: rareFraction, key: split == 0 ? "rare_fraction" : "test_rare_fraction")
        var groupRNG = SplitMix64(seed: groupSeed(seed, split: UInt64(split)))
        let rare = rareAssignment(count: count, fraction: rareFraction, using: &groupRNG)
        let ids = caseIDs(prefix: split == 0 ? "phantom_" : "phantom_ts_", count: count)
        return try (0..<count).map { i in
            var rng = SplitMix64(seed: caseSeed(seed, split: UInt64(split), index: i))
            return try makeCase(id: ids[i], rare: rare[i], shape: shape, spacing: spacing, using: &rng)
        }
    }

    static func validate(count: Int, fraction: Double, key: String) throws {
        guard count >= 0 else {
            throw DataError.invalidOption(key: "phantom.cases", value: "\(count)", allowed: "≥ 0")
        }
        guard fraction >= 0, fraction <= 1 else {
            throw DataError.invalidOption(key: "phantom.\(key)", value: "\(fraction)", allowed: "a fraction in [0, 1]")
        }
    }
}
