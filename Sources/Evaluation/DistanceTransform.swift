/// Exact squared Euclidean distance transform with anisotropic spacing.
///
/// Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions" (Theory of Computing
/// 8, 2012): the 3D squared EDT is separable, f(x,y,z) = min over features of
/// sx²·Δx² + sy²·Δy² + sz²·Δz², computed as three 1D lower-envelope passes (x, then y, then z),
/// each linear in the line length. Values are squared distances in mm² between voxel centres,
/// in Double so that distances agree with scipy's `distance_transform_edt` to rounding.
public enum DistanceTransform {

    /// Squared distance (mm²) from every voxel to the nearest feature voxel (`features[i] != 0`).
    /// Layout x fastest: index = x + nx·(y + ny·z). Voxels are `+infinity` when there is no
    /// feature at all.
    /// - Parameters:
    ///   - features: nx·ny·nz flags, non-zero = feature.
    ///   - shape: [nx, ny, nz].
    ///   - spacing: [sx, sy, sz] in mm (positive).
    public static func squaredEDT(features: [UInt8], shape: [Int], spacing: [Double]) -> [Double] {
        let nx = shape[0], ny = shape[1], nz = shape[2]
        var out = [Double](repeating: .infinity, count: nx * ny * nz)
        let longest = max(nx, max(ny, nz))
        var scratch = EnvelopeScratch(capacity: longest)
        out.withUnsafeMutableBufferPointer { d in
            features.withUnsafeBufferPointer { f in
                passX(f, d, nx: nx, lines: ny * nz, sx2: spacing[0] * spacing[0])
            }
            // y pass: lines of length ny, stride nx, one per (x, z).
            for z in 0..<nz {
                for x in 0..<nx {
                    scratch.transform(d, start: x + nx * ny * z, stride: nx, count: ny,
                                      s2: spacing[1] * spacing[1])
                }
            }
            // z pass: lines of length nz, stride nx·ny, one per (x, y).
            for y in 0..<ny {
                for x in 0..<nx {
                    scratch.transform(d, start: x + nx * y, stride: nx * ny, count: nz,
                                      s2: spacing[2] * spacing[2])
                }
            }
        }
        return out
    }

    /// x pass on binary input: two scans give the distance in voxels to the nearest feature on
    /// the same row; squared and scaled by sx².
    private static func passX(_ f: UnsafeBufferPointer<UInt8>, _ d: UnsafeMutableBufferPointer<Double>,
                              nx: Int, lines: Int, sx2: Double) {
        for line in 0..<lines {
            let base = line * nx
            var last = -1
            for x in 0..<nx where f[base + x] != 0 {
                last = x
                d[base + x] = 0
            }
            if last < 0 { continue }  // no feature on this row: stays +inf
            // forward: distance to the previous feature
            var prev = -1
            for x in 0..<nx {
                if f[base + x] != 0 { prev = x; continue }
                if prev >= 0 { let k = Double(x - prev); d[base + x] = sx2 * k * k }
            }
            // backward: distance to the next feature
            var next = -1
            for x in stride(from: nx - 1, through: 0, by: -1) {
                if f[base + x] != 0 { next = x; continue }
                if next >= 0 {
                    let k = Double(next - x)
                    let v = sx2 * k * k
                    if v < d[base + x] { d[base + x] = v }
                }
            }
        }
    }
}

/// Work buffers of the 1D lower envelope of parabolas s²(q−p)² + f(p).
struct EnvelopeScratch {
    var line: [Double]
    var vertices: [Int]
    var bounds: [Double]

    init(capacity: Int) {
        line = [Double](repeating: 0, count: capacity)
        vertices = [Int](repeating: 0, count: capacity)
        bounds = [Double](repeating: 0, count: capacity + 1)
    }

    /// In-place 1D squared distance transform of d[start + i·stride], i < count. Points with
    /// f = +inf carry no parabola; a line without finite points stays +inf.
    mutating func transform(_ d: UnsafeMutableBufferPointer<Double>, start: Int, stride: Int,
                            count n: Int, s2: Double) {
        line.withUnsafeMutableBufferPointer { f in
            vertices.withUnsafeMutableBufferPointer { v in
                bounds.withUnsafeMutableBufferPointer { z in
                    var anyFinite = false
                    for i in 0..<n {
                        let value = d[start + i * stride]
                        f[i] = value
                        if value != .infinity { anyFinite = true }
                    }
                    if !anyFinite { return }
                    var k = -1
                    for q in 0..<n where f[q] != .infinity {
                        if k < 0 {
                            k = 0; v[0] = q; z[0] = -.infinity; z[1] = .infinity
                            continue
                        }
                        let fq = f[q] + s2 * Double(q * q)
                        var s = 0.0
                        while true {
                            let p = v[k]
                            s = (fq - (f[p] + s2 * Double(p * p))) / (2 * s2 * Double(q - p))
                            if s <= z[k] { k -= 1 } else { break }
                        }
                        k += 1
                        v[k] = q; z[k] = s; z[k + 1] = .infinity
                    }
                    k = 0
                    for q in 0..<n {
                        while z[k + 1] < Double(q) { k += 1 }
                        let p = v[k]
                        let delta = Double(q - p)
                        d[start + q * stride] = s2 * delta * delta + f[p]
                    }
                }
            }
        }
    }
}
