// Geometry of the synthetic brain phantom: which tissue is at a point, for one random case.
//
// A point p (mm, x = left→right, y = posterior→anterior, z = inferior→superior, about the volume
// centre) is rotated slightly, shifted and warped by a smooth random field, then expressed in
// brain-normalised coordinates u (brain surface ≈ unit sphere) with radius s = |u|. Layers, from
// outside in: scalp and skull (label 0), external CSF (1, also filling sulci), a cortical grey-
// matter ribbon (2) whose inner and outer surfaces dip along the zero sheets of a random
// sum-of-sines "fold" field (sulci), white matter (3); inside it two curved lateral ventricles (4)
// and two deep grey nuclei (5). The rare group has enlarged ventricles (ventriculomegaly).

import Foundation

/// Tissues of the phantom; the first six carry the label of the same value.
public enum PhantomTissue: Int, CaseIterable, Sendable {
    case background = 0, externalCSF, greyMatter, whiteMatter, ventricles, deepGrey, skull, scalp

    /// Label written to the label map (skull and scalp are background).
    public var label: UInt8 { rawValue <= 5 ? UInt8(rawValue) : 0 }
}

/// One smooth random plane wave a·sin(k·p + φ).
struct PlaneWave: Sendable {
    var k: SIMD3<Double>
    var phase: Double
    var amplitude: Double

    /// Random direction, wavenumber 2π/wavelength, uniform phase.
    init(wavelength: Double, amplitude: Double, using rng: inout some RandomNumberGenerator) {
        var d = SIMD3(rng.normal(), rng.normal(), rng.normal())
        let len = (d * d).sum().squareRoot()
        d = len > 0 ? d / len : SIMD3(1, 0, 0)
        k = d * (2 * Double.pi / wavelength)
        phase = rng.uniform(0, 2 * Double.pi)
        self.amplitude = amplitude
    }

    @inline(__always) func callAsFunction(_ p: SIMD3<Double>) -> Double {
        amplitude * sin((k * p).sum() + phase)
    }
}

/// Layer radii in brain-normalised units (brain surface at s = 1), at the proportions of the
/// product's target, fetal and neonatal brain MRI (configs/fetal.cfg), and thick enough to be
/// resolved at 64³ × 1.2 mm, where the brain radius is ≈ 19 voxels:
/// - extra-axial CSF: the fetal subarachnoid space is a few millimetres wide over a brain of
///   radius 30–45 mm (≈ 10–15 % of the radius, and a large share, ~20–40 %, of the intracranial
///   volume); 0.14 → ≈ 2.7 voxels, sulci add more;
/// - the cortical ribbon: 0.16 → ≥ 3 voxels (the fetal cortex is thin, 1–3 mm, but a thinner
///   ribbon would not survive the partial-volume blur at this grid);
/// - skull and scalp thin (the fetal skull is thin; maternal tissue around is not modelled).
enum PhantomLayers {
    static let csfOuter = 1.14      // outer edge of external CSF (inner table of the skull)
    static let skullOuter = 1.19
    static let headOuter = 1.24     // skin
    static let ribbon = 0.16        // grey-matter thickness
    static let sulcusWidth = 0.35   // width of the fold sheets, in units of the fold field
}

/// Ventricles and deep grey nuclei, brain-normalised. Fetal lateral ventricles are large relative
/// to the brain: an atrial width < 10 mm is normal, ≥ 10 mm is ventriculomegaly; the common
/// semi-axis 0.18 (x) gives ≈ 7 voxels ≈ 8 mm across, the rare group's 1.6× ≈ 13 mm; together
/// ≈ 3 % of the intracranial volume (rare ≈ 8 %). Deep grey (thalami + basal ganglia) is ≈ 5 % of
/// the neonatal brain: two ellipsoids of semi-axes (0.28, 0.38, 0.26) are ≈ 5.5 % of the unit
/// sphere before the ventricles carve them.
enum PhantomNuclei {
    static let ventricleCentre = SIMD3(0.19, -0.02, 0.12)     // x is ± per side
    static let ventricleAxes = SIMD3(0.18, 0.48, 0.26)
    /// Rare group (ventriculomegaly): wider, longer and taller (≈ 3× the volume).
    static let rareVentricleScale = SIMD3(1.6, 1.15, 1.6)
    static let deepGreyCentre = SIMD3(0.26, -0.04, -0.26)
    static let deepGreyAxes = SIMD3(0.28, 0.38, 0.26)
}

public struct PhantomAnatomy: Sendable {
    public let rare: Bool
    var brainAxes: SIMD3<Double>            // mm, semi-axes of the brain surface
    var shift: SIMD3<Double>                // mm
    var rotation: [Double]                  // 3×3 row-major
    var warp: [PlaneWave]                   // two per component x, y, z; mm
    var folds: [PlaneWave]                  // in u units
    var sulcusDepth: Double
    var ventricleAxes: SIMD3<Double>
    var deepGreyAxes: SIMD3<Double>

    /// Random anatomy fitting a field of view whose smallest half-extent is `radius` mm.
    public init(rare: Bool, radius: Double, using rng: inout some RandomNumberGenerator) {
        self.rare = rare
        // Head semi-axes (x, y, z) as fractions of the half field of view, ± 6 % per case.
        let size = rng.uniform(0.94, 1.06)
        let head = SIMD3(0.76, 0.88, 0.72) * radius * size
        brainAxes = head / PhantomLayers.headOuter
        shift = SIMD3(rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)) * (0.02 * radius)
        let yaw = rng.uniform(-8, 8) * Double.pi / 180, pitch = rng.uniform(-5, 5) * Double.pi / 180
        let (cy, sy, cp, sp) = (cos(yaw), sin(yaw), cos(pitch), sin(pitch))
        // Rz(yaw) · Rx(pitch)
        rotation = [cy, -sy * cp, sy * sp, sy, cy * cp, -cy * sp, 0, sp, cp]
        // Smooth deformation: wavelengths ≥ the head radius, amplitude ≈ 3 % of it per wave.
        warp = (0..<6).map { _ in
            PlaneWave(wavelength: radius * rng.uniform(1.2, 2.0), amplitude: 0.03 * radius, using: &rng)
        }
        folds = (0..<3).map { _ in PlaneWave(wavelength: rng.uniform(0.32, 0.42), amplitude: 1, using: &rng) }
        // Sulci 15–25 % of the radius deep: a brain in its third trimester, still folding.
        sulcusDepth = rng.uniform(0.15, 0.25)
        let v = rng.uniform(0.85, 1.15)
        ventricleAxes = PhantomNuclei.ventricleAxes * v
            * (rare ? PhantomNuclei.rareVentricleScale : SIMD3(1, 1, 1))
        deepGreyAxes = PhantomNuclei.deepGreyAxes * rng.uniform(0.9, 1.1)
    }

    /// Tissue at point p (mm about the volume centre).
    public func tissue(at p: SIMD3<Double>) -> PhantomTissue {
        let r = rotation
        let c = p - shift
        var q = SIMD3(r[0] * c.x + r[1] * c.y + r[2] * c.z,
                      r[3] * c.x + r[4] * c.y + r[5] * c.z,
                      r[6] * c.x + r[7] * c.y + r[8] * c.z)
        let q0 = q
        q.x += warp[0](q0) + warp[1](q0)
        q.y += warp[2](q0) + warp[3](q0)
        q.z += warp[4](q0) + warp[5](q0)
        let u = q / brainAxes
        let s = (u * u).sum().squareRoot()
        if s > PhantomLayers.headOuter { return .background }
        if s > PhantomLayers.skullOuter { return .scalp }
        if s > PhantomLayers.csfOuter { return .skull }
        let f = folds[0](u) + folds[1](u) + folds[2](u)
        let sulcus = exp(-(f / PhantomLayers.sulcusWidth) * (f / PhantomLayers.sulcusWidth))
        let pial = 1 - sulcusDepth * sulcus
        if s > pial { return .externalCSF }
        if s > pial - PhantomLayers.ribbon { return .greyMatter }
        if inVentricle(u, side: -1) || inVentricle(u, side: 1) { return .ventricles }
        if inDeepGrey(u, side: -1) || inDeepGrey(u, side: 1) { return .deepGrey }
        return .whiteMatter
    }

    /// Lateral ventricle: an ellipsoid bent down at both ends (z centre falls with y²).
    @inline(__always) func inVentricle(_ u: SIMD3<Double>, side: Double) -> Bool {
        let c = PhantomNuclei.ventricleCentre
        var v = u - SIMD3(side * c.x, c.y, c.z)
        v.z += 0.6 * v.y * v.y
        let t = v / ventricleAxes
        return (t * t).sum() < 1
    }

    @inline(__always) func inDeepGrey(_ u: SIMD3<Double>, side: Double) -> Bool {
        let c = PhantomNuclei.deepGreyCentre
        let t = (u - SIMD3(side * c.x, c.y, c.z)) / deepGreyAxes
        return (t * t).sum() < 1
    }
}
