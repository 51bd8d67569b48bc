// Rotation, scaling and elastic deformation folded into ONE resample from the case.
//
// Patch voxel q (D×H×W, centred c = q − (P − 1)/2) reads the case at
//     s = origin + (P − 1)/2 + M · (c + δ(q)),     M = R_d(α_d) · R_h(α_h) · R_w(α_w) · S
// (batchgeneratorsv2: deform first, then rotate and scale, about the patch centre). Images are
// interpolated trilinearly with zeros outside the case (`grid_sample`, padding "zeros"); labels by
// nearest neighbour or the one-hot linear vote (`LabelInterpolation`), 0 outside. With M = I and
// no δ the transform is the identity and the patch is an exact crop.

import Foundation

public struct SpatialTransform: Sendable {
    /// Row-major 3×3 matrix in (d, h, w) voxel coordinates.
    public var matrix: [Double]
    public var displacement: DisplacementField?

    public static let identity = SpatialTransform(matrix: [1, 0, 0, 0, 1, 0, 0, 0, 1], displacement: nil)

    public init(matrix: [Double], displacement: DisplacementField?) {
        self.matrix = matrix; self.displacement = displacement
    }

    /// Rotation by `angles` (radians) about the d, h and w axes, then scaling by `scale`.
    public init(angles: [Double], scale: [Double], displacement: DisplacementField? = nil) {
        func mul(_ a: [Double], _ b: [Double]) -> [Double] {
            var r = [Double](repeating: 0, count: 9)
            for i in 0..<3 { for j in 0..<3 { for k in 0..<3 { r[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j] } } }
            return r
        }
        let (c0, s0) = (cos(angles[0]), sin(angles[0]))
        let (c1, s1) = (cos(angles[1]), sin(angles[1]))
        let (c2, s2) = (cos(angles[2]), sin(angles[2]))
        let rd: [Double] = [1, 0, 0, 0, c0, -s0, 0, s0, c0]     // about d: mixes h, w
        let rh: [Double] = [c1, 0, s1, 0, 1, 0, -s1, 0, c1]     // about h: mixes d, w
        let rw: [Double] = [c2, -s2, 0, s2, c2, 0, 0, 0, 1]     // about w: mixes d, h
        let s: [Double] = [scale[0], 0, 0, 0, scale[1], 0, 0, 0, scale[2]]
        self.init(matrix: mul(mul(mul(rd, rh), rw), s), displacement: displacement)
    }

    public var isIdentity: Bool {
        displacement == nil && matrix == SpatialTransform.identity.matrix
    }

    /// The patch of `size` at `origin` of case `c`, resampled through this transform.
    public func apply(to c: CaseVolume, origin: GridPoint, size: GridShape,
                      labelMode: LabelInterpolation) -> Patch {
        if isIdentity { return PatchExtractor.extract(c, origin: origin, size: size) }
        let shape = c.shape, n = shape.count, ch = c.channels
        var image = [Float](repeating: 0, count: ch * size.count)
        var label: [UInt8]? = c.label == nil ? nil : [UInt8](repeating: 0, count: size.count)
        let m = matrix.map { Float($0) }
        let half = (0..<3).map { Float(size[$0] - 1) / 2 }
        let centre = (0..<3).map { Float(origin[$0]) + half[$0] }
        let sw = 1, sh = shape.w, sd = shape.w * shape.h
        let offsets = SIMD8<Int>(0, sw, sh, sh + sw, sd, sd + sw, sd + sh, sd + sh + sw)
        let cz8 = SIMD8<Float>(0, 0, 0, 0, 1, 1, 1, 1), cy8 = SIMD8<Float>(0, 0, 1, 1, 0, 0, 1, 1)
        let cx8 = SIMD8<Float>(0, 1, 0, 1, 0, 1, 0, 1)
        var votes = [Float](repeating: 0, count: 256)
        let srcLabel = c.label ?? []
        var outLabel = label ?? []
        let hasLabel = !outLabel.isEmpty
        c.image.withUnsafeBufferPointer { src in
            image.withUnsafeMutableBufferPointer { dst in
                var q = 0
                for z in 0..<size.d {
                    for y in 0..<size.h {
                        for x in 0..<size.w {
                            var cz = Float(z) - half[0], cy = Float(y) - half[1], cx = Float(x) - half[2]
                            if let f = displacement {
                                cz += f.components[0][q]; cy += f.components[1][q]; cx += f.components[2][q]
                            }
                            let pz = centre[0] + m[0] * cz + m[1] * cy + m[2] * cx
                            let py = centre[1] + m[3] * cz + m[4] * cy + m[5] * cx
                            let px = centre[2] + m[6] * cz + m[7] * cy + m[8] * cx
                            let fz = pz.rounded(.down), fy = py.rounded(.down), fx = px.rounded(.down)
                            // Far outside (also guards the Int conversion): zeros, label 0.
                            if !(fz > -2 && fy > -2 && fx > -2 && fz < Float(shape.d) && fy < Float(shape.h)
                                 && fx < Float(shape.w)) { q += 1; continue }
                            let iz = Int(fz), iy = Int(fy), ix = Int(fx)
                            let tz = pz - fz, ty = py - fy, tx = px - fx
                            // Corner k = 4·dz + 2·dy + dx; weight = Π (t or 1 − t).
                            let wz = cz8 * tz + (1 - cz8) * (1 - tz)
                            let wy = cy8 * ty + (1 - cy8) * (1 - ty)
                            let wx = cx8 * tx + (1 - cx8) * (1 - tx)
                            var w = wz * wy * wx
                            let base = shape.index(iz, iy, ix)
                            var idx = offsets &+ base
                            if !(iz >= 0 && iy >= 0 && ix >= 0 && iz + 1 < shape.d && iy + 1 < shape.h
                                 && ix + 1 < shape.w) {
                                for k in 0..<8 {
                                    let zz = iz + (k >> 2), yy = iy + ((k >> 1) & 1), xx = ix + (k & 1)
                                    if !(zz >= 0 && yy >= 0 && xx >= 0 && zz < shape.d && yy < shape.h && xx < shape.w) {
                                        w[k] = 0; idx[k] = -1
                                    }
                                }
                            }
                            for chn in 0..<ch {
                                let o = chn * n
                                var acc: Float = 0
                                for k in 0..<8 where idx[k] >= 0 { acc += w[k] * src[o + idx[k]] }
                                dst[chn * size.count + q] = acc
                            }
                            if hasLabel {
                                var l = SIMD8<UInt8>(repeating: 0)
                                for k in 0..<8 where idx[k] >= 0 { l[k] = srcLabel[idx[k]] }
                                outLabel[q] = SpatialTransform.sampleLabel(l, weights: wz * wy * wx,
                                                                           mode: labelMode, votes: &votes)
                            }
                            q += 1
                        }
                    }
                }
            }
        }
        if label != nil { label = outLabel }
        return Patch(image: image, label: label, size: size, channels: ch, origin: origin)
    }

    /// Label at one sampling point from its 8 neighbours `labels` with trilinear weights
    /// (neighbours outside the case carry label 0).
    @inline(__always)
    static func sampleLabel(_ labels: SIMD8<UInt8>, weights w: SIMD8<Float>, mode: LabelInterpolation,
                            votes: inout [Float]) -> UInt8 {
        if mode == .nearest {
            // Nearest corner = largest trilinear weight; exact half-way ties go to the lower corner.
            var best = 0
            for k in 1..<8 where w[k] > w[best] { best = k }
            return labels[best]
        }
        if labels == SIMD8(repeating: labels[0]) { return labels[0] }
        for k in 0..<8 { votes[Int(labels[k])] += w[k] }
        var best = labels[0]
        for k in 1..<8 {
            let v = labels[k]
            if votes[Int(v)] > votes[Int(best)] || (votes[Int(v)] == votes[Int(best)] && v < best) { best = v }
        }
        for k in 0..<8 { votes[Int(labels[k])] = 0 }
        return best
    }
}
