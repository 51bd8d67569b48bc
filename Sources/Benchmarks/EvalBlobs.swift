import Common

/// Synthetic label volumes for `dro-bench eval`: three nested, lumpy ellipsoids (a large
/// "brain", an inner structure, a small offset one), and a prediction with shifted centres,
/// different lumps and one false-positive blob — a realistic mix of small boundary errors and a
/// one-sided error.
struct EvalBlobGenerator {
    /// Lump amplitude: relative radius modulation of each blob.
    static let lumpAmplitude = 0.12
    /// Voxel shift of the prediction's centres.
    static let predictionShift = [1.5, -1.0, 1.0]

    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    private mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * generator.nextUnitDouble()
    }

    struct Blob {
        var label: Int32
        var centre: [Double]
        var radii: [Double]
        var lumps: [Double]  // coefficients of six low-order shape terms
    }

    /// Ground truth and prediction label volumes, x fastest.
    mutating func pair(shape: [Int]) -> (gt: [Int32], pred: [Int32]) {
        let n = Double(shape[0])
        let base: [(Int32, [Double], [Double])] = [
            (1, [0.5, 0.5, 0.5], [0.36, 0.40, 0.32]),
            (2, [0.48, 0.52, 0.5], [0.12, 0.10, 0.14]),
            (3, [0.5, 0.25, 0.3], [0.10, 0.08, 0.07]),
        ]
        var gtBlobs: [Blob] = [], predBlobs: [Blob] = []
        for (label, c, r) in base {
            let centre = c.map { $0 * n }, radii = r.map { $0 * n }
            gtBlobs.append(Blob(label: label, centre: centre, radii: radii, lumps: lumps()))
            predBlobs.append(Blob(label: label, centre: zip(centre, Self.predictionShift).map { $0 + $1 },
                                  radii: radii.map { $0 * 0.98 }, lumps: lumps()))
        }
        predBlobs.append(Blob(label: 3, centre: [0.8 * n, 0.75 * n, 0.7 * n], radii: [0.02 * n, 0.02 * n, 0.02 * n],
                              lumps: lumps()))
        return (paint(gtBlobs, shape), paint(predBlobs, shape))
    }

    private mutating func lumps() -> [Double] {
        (0..<6).map { _ in uniform(-Self.lumpAmplitude, Self.lumpAmplitude) }
    }

    private func paint(_ blobs: [Blob], _ shape: [Int]) -> [Int32] {
        var out = [Int32](repeating: 0, count: shape[0] * shape[1] * shape[2])
        for b in blobs {
            let reach = 1 + 6 * Self.lumpAmplitude
            let lo = (0..<3).map { max(0, Int(b.centre[$0] - b.radii[$0] * reach)) }
            let hi = (0..<3).map { min(shape[$0] - 1, Int(b.centre[$0] + b.radii[$0] * reach) + 1) }
            for z in lo[2]...hi[2] {
                let qz = (Double(z) - b.centre[2]) / b.radii[2]
                for y in lo[1]...hi[1] {
                    let qy = (Double(y) - b.centre[1]) / b.radii[1]
                    for x in lo[0]...hi[0] {
                        let qx = (Double(x) - b.centre[0]) / b.radii[0]
                        let r2 = qx * qx + qy * qy + qz * qz
                        if r2 > reach * reach { continue }
                        let r = max(r2.squareRoot(), 1e-12)
                        let ux = qx / r, uy = qy / r, uz = qz / r
                        let terms = [ux * uy, uy * uz, ux * uz, ux * ux - uy * uy, 3 * uz * uz - 1, 4 * ux * uy * uz]
                        var bound = 1.0
                        for (t, c) in zip(terms, b.lumps) { bound += t * c }
                        if r <= bound { out[x + shape[0] * (y + shape[1] * z)] = b.label }
                    }
                }
            }
        }
        return out
    }
}
