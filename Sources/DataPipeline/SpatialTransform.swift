// Rotation, scaling and elastic deformation folded into ONE resample from the case.
//
// Patch voxel q (D×H×W, centred c = q − (P − 1)/2) reads the case at
//     s = origin + (P − 1)/2 + M · (c + δ(q)),     M = R_d(α_d) · R_h(α_h) · R_w(α_w) · S
// (batchgeneratorsv2: deform first, then rotate and scale, about the patch centre). Images are
// interpolated trilinearly with zeros outside the case (`grid_sample`, padding "zeros"); labels by
// nearest neighbour or the one-hot linear vote (`LabelInterpolation`), 0 outside. With M = I and
// no δ the transform is the identity and the patch is an exact crop.
// nnU-Net cuts an enlarged patch first and transforms that; sampling the whole case directly
// gives the same patch where the enlarged one would have covered it, and real data instead of
// zeros in the corners a large rotation or zoom-out brings in.

import Config
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
        let shape = c.shape, n = shape.count, ch = c.channels, pn = size.count
        var image = [Float](repeating: 0, count: ch * pn)
        var label = [UInt8](repeating: 0, count: c.label == nil ? 0 : pn)
        let srcLabel = c.label ?? []
        let m = matrix.map { Float($0) }
        let (m0, m1, m2, m3, m4, m5, m6, m7, m8) = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8])
        let h0 = Float(size.d - 1) / 2, h1 = Float(size.h - 1) / 2, h2 = Float(size.w - 1) / 2
        let c0 = Float(origin.d) + h0, c1 = Float(origin.h) + h1, c2 = Float(origin.w) + h2
        let dd = shape.d, hh = shape.h, ww = shape.w, sd = hh * ww
        let fD = Float(dd), fH = Float(hh), fW = Float(ww)
        let zero = [Float](repeating: 0, count: displacement == nil ? 0 : pn)
        let field = displacement?.components ?? [zero, zero, zero]
        let hasField = displacement != nil, hasLabel = c.label != nil, vote = labelMode == .linearVote
        var votes = [Float](repeating: 0, count: 256)
        c.image.withUnsafeBufferPointer { src in
        srcLabel.withUnsafeBufferPointer { sl in
        image.withUnsafeMutableBufferPointer { dst in
        label.withUnsafeMutableBufferPointer { dl in
        field[0].withUnsafeBufferPointer { fz0 in
        field[1].withUnsafeBufferPointer { fy0 in
        field[2].withUnsafeBufferPointer { fx0 in
            var q = 0
            for z in 0..<size.d {
                for y in 0..<size.h {
                    for x in 0..<size.w {
                        var cz = Float(z) - h0, cy = Float(y) - h1, cx = Float(x) - h2
                        if hasField { cz += fz0[q]; cy += fy0[q]; cx += fx0[q] }
                        let pz = c0 + m0 * cz + m1 * cy + m2 * cx
                        let py = c1 + m3 * cz + m4 * cy + m5 * cx
                        let px = c2 + m6 * cz + m7 * cy + m8 * cx
                        let fz = pz.rounded(.down), fy = py.rounded(.down), fx = px.rounded(.down)
                        // No neighbour inside (also guards the Int conversion): zeros, label 0.
                        guard fz > -2, fy > -2, fx > -2, fz < fD, fy < fH, fx < fW else { q += 1; continue }
                        let iz = Int(fz), iy = Int(fy), ix = Int(fx)
                        let tz = pz - fz, ty = py - fy, tx = px - fx
                        let uz = 1 - tz, uy = 1 - ty, ux = 1 - tx
                        let w0 = uz * uy * ux, w1 = uz * uy * tx, w2 = uz * ty * ux, w3 = uz * ty * tx
                        let w4 = tz * uy * ux, w5 = tz * uy * tx, w6 = tz * ty * ux, w7 = tz * ty * tx
                        if iz >= 0, iy >= 0, ix >= 0, iz + 1 < dd, iy + 1 < hh, ix + 1 < ww {
                            // Fast path: all 8 neighbours inside.
                            let b = iz * sd + iy * ww + ix
                            for k in 0..<ch {
                                let o = k * n + b
                                dst[k * pn + q] = w0 * src[o] + w1 * src[o + 1] + w2 * src[o + ww] + w3 * src[o + ww + 1]
                                    + w4 * src[o + sd] + w5 * src[o + sd + 1] + w6 * src[o + sd + ww] + w7 * src[o + sd + ww + 1]
                            }
                            if hasLabel {
                                if !vote {
                                    // Largest weight = nearest corner per axis (t > ½ → upper; ties lower).
                                    dl[q] = sl[b + (tz > 0.5 ? sd : 0) + (ty > 0.5 ? ww : 0) + (tx > 0.5 ? 1 : 0)]
                                } else {
                                    let l0 = sl[b]
                                    let ls = SIMD8<UInt8>(l0, sl[b + 1], sl[b + ww], sl[b + ww + 1], sl[b + sd],
                                                          sl[b + sd + 1], sl[b + sd + ww], sl[b + sd + ww + 1])
                                    dl[q] = ls == SIMD8(repeating: l0) ? l0
                                        : SpatialTransform.sampleLabel(ls, weights: SIMD8(w0, w1, w2, w3, w4, w5, w6, w7),
                                                                       mode: labelMode, votes: &votes)
                                }
                            }
                        } else {
                            // Border: neighbours outside contribute 0 (image) and label 0.
                            var ws = SIMD8<Float>(w0, w1, w2, w3, w4, w5, w6, w7)
                            var ls = SIMD8<UInt8>(repeating: 0)
                            var idx = SIMD8<Int>(repeating: -1)
                            for k in 0..<8 {
                                let zz = iz + (k >> 2), yy = iy + ((k >> 1) & 1), xx = ix + (k & 1)
                                if zz >= 0, yy >= 0, xx >= 0, zz < dd, yy < hh, xx < ww {
                                    idx[k] = zz * sd + yy * ww + xx
                                    if hasLabel { ls[k] = sl[idx[k]] }
                                }
                            }
                            let labelWeights = ws
                            for k in 0..<8 where idx[k] < 0 { ws[k] = 0 }
                            for k in 0..<ch {
                                var acc: Float = 0
                                for j in 0..<8 where idx[j] >= 0 { acc += ws[j] * src[k * n + idx[j]] }
                                dst[k * pn + q] = acc
                            }
                            if hasLabel {
                                dl[q] = SpatialTransform.sampleLabel(ls, weights: labelWeights, mode: labelMode, votes: &votes)
                            }
                        }
                        q += 1
                    }
                }
            }
        } } } } } } }
        return Patch(image: image, label: hasLabel ? label : nil, size: size, channels: ch, origin: origin)
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
