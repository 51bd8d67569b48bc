// Winograd F(4×4×4, 3×3×3): the weight-side transforms, in Double, rounded to Float once.
//
//   G (6×3) and Gᵀ (3×6) of Lavin & Gray F(4,3), applied along each of the three axes.
// Eight channel pairs adjacent in U go through the transform together, one per SIMD8<Double>
// lane, so each of the 216 component planes receives one 32-byte store (and the gradient one
// 32-byte load) per block of pairs instead of a scattered 4-byte access per pair: 216 streams
// `Cout·Cin` floats apart, which map to the same cache sets. Per lane the Double operations are
// those of the one-pair transform they replaced (bit-identical, WinogradWeightTransformTests).

extension WinogradF43 {
    typealias D8 = SIMD8<Double>

    /// G (6×3) applied to (g0, g1, g2).
    @inline(__always)
    static func gApply(_ g0: D8, _ g1: D8, _ g2: D8) -> (D8, D8, D8, D8, D8, D8) {
        let a = g0 + g2
        return (g0 / 4, -(a + g1) / 6, -(a - g1) / 6, g0 / 24 + g1 / 12 + g2 / 6, g0 / 24 - g1 / 12 + g2 / 6, g2)
    }

    /// Gᵀ (3×6) applied to m[0], m[s], …, m[5s].
    @inline(__always)
    static func gtApply(_ m: UnsafePointer<D8>, _ s: Int) -> (D8, D8, D8) {
        let (m0, m1, m2, m3, m4, m5) = (m[0], m[s], m[2 * s], m[3 * s], m[4 * s], m[5 * s])
        return (m0 / 4 - (m1 + m2) / 6 + (m3 + m4) / 24, (m2 - m1) / 6 + (m3 - m4) / 12, (m3 + m4 - m1 - m2) / 6 + m5)
    }

    @inline(__always)
    private static func storeRounded(_ v: D8, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count == 8 {
            p[0] = Float(v[0]); p[1] = Float(v[1]); p[2] = Float(v[2]); p[3] = Float(v[3])
            p[4] = Float(v[4]); p[5] = Float(v[5]); p[6] = Float(v[6]); p[7] = Float(v[7])
        } else {
            for l in 0..<count { p[l] = Float(v[l]) }
        }
    }

    /// u[ξ][co][ci] = (G w[co, ci] Gᵀ)_ξ per axis; with `flipTranspose` the kernel flipped in space
    /// and laid out u[ξ][ci][co] (the input gradient's forward).
    static func transformWeights(_ w: UnsafePointer<Float>, cout: Int, cin: Int, flipTranspose: Bool,
                                 u: UnsafeMutablePointer<Float>) {
        let matrix = cout * cin
        // Rows of U (co, or ci when transposed); within a row the pairs are adjacent in U.
        let (rows, columns) = flipTranspose ? (cin, cout) : (cout, cin)
        let columnStride = flipTranspose ? cin * 27 : 27   // w's stride between adjacent pairs of a row
        Parallel.forEach(0..<rows, threads: matrix >= 256 ? Parallel.defaultThreads : 1) { range in
            withUnsafeTemporaryAllocation(of: D8.self, capacity: 27 + 54 + 108) { buffer in
                // g[tap], a[(kd·3 + kh)·6 + ξw], b[(kd·6 + ξh)·6 + ξw]
                let g = buffer.baseAddress!, a = g + 27, b = a + 54
                for row in range {
                    let first = flipTranspose ? w + row * 27 : w + row * cin * 27
                    var column = 0
                    while column < columns {
                        let count = min(8, columns - column)
                        let k0 = first + column * columnStride, s = columnStride
                        for i in 0..<27 {
                            let p = k0 + (flipTranspose ? 26 - i : i)
                            if count == 8 {
                                g[i] = D8(Double(p[0]), Double(p[s]), Double(p[2 * s]), Double(p[3 * s]),
                                          Double(p[4 * s]), Double(p[5 * s]), Double(p[6 * s]), Double(p[7 * s]))
                            } else {
                                var v = D8.zero
                                for l in 0..<count { v[l] = Double(p[l * s]) }
                                g[i] = v
                            }
                        }
                        for line in 0..<9 {
                            let r = gApply(g[3 * line], g[3 * line + 1], g[3 * line + 2])
                            let o = a + line * 6
                            o[0] = r.0; o[1] = r.1; o[2] = r.2; o[3] = r.3; o[4] = r.4; o[5] = r.5
                        }
                        for kd in 0..<3 {
                            for xw in 0..<6 {
                                let p = a + kd * 18 + xw
                                let r = gApply(p[0], p[6], p[12])
                                let o = b + kd * 36 + xw
                                o[0] = r.0; o[6] = r.1; o[12] = r.2; o[18] = r.3; o[24] = r.4; o[30] = r.5
                            }
                        }
                        let out = u + row * columns + column
                        for hw in 0..<36 {
                            let r = gApply(b[hw], b[36 + hw], b[72 + hw])
                            let o = out + hw * matrix, st = 36 * matrix
                            storeRounded(r.0, o, count: count); storeRounded(r.1, o + st, count: count)
                            storeRounded(r.2, o + 2 * st, count: count); storeRounded(r.3, o + 3 * st, count: count)
                            storeRounded(r.4, o + 4 * st, count: count); storeRounded(r.5, o + 5 * st, count: count)
                        }
                        column += 8
                    }
                }
            }
        }
    }

    /// dw[co, ci] += Gᵀ dU[ξ][co][ci] G per axis. `dwRowStride`: input channels per output
    /// channel in dw (nil: cin; more when dU is a block of dw's columns); `threads`: nil = the
    /// default threads from 256 pairs on.
    static func accumulateWeightGradient(du: UnsafePointer<Float>, cout: Int, cin: Int,
                                         dw: UnsafeMutablePointer<Float>, dwRowStride: Int? = nil,
                                         threads: Int? = nil) {
        let matrix = cout * cin
        let blocks = (matrix + 7) / 8
        let stride = dwRowStride ?? cin
        Parallel.forEach(0..<blocks, threads: threads ?? (matrix >= 256 ? Parallel.defaultThreads : 1)) { range in
            withUnsafeTemporaryAllocation(of: D8.self, capacity: 216 + 108 + 54) { buffer in
                let t = buffer.baseAddress!, b = t + 216, a = b + 108  // t[ξ], b[kd][ξh][ξw], a[kd][kh][ξw]
                for block in range {
                    let pair = block * 8, count = min(8, matrix - pair)
                    for xi in 0..<216 {
                        let p = du + xi * matrix + pair
                        if count == 8 {
                            t[xi] = D8(Double(p[0]), Double(p[1]), Double(p[2]), Double(p[3]),
                                       Double(p[4]), Double(p[5]), Double(p[6]), Double(p[7]))
                        } else {
                            var v = D8.zero
                            for l in 0..<count { v[l] = Double(p[l]) }
                            t[xi] = v
                        }
                    }
                    for hw in 0..<36 {
                        let r = gtApply(t + hw, 36)
                        b[hw] = r.0; b[36 + hw] = r.1; b[72 + hw] = r.2
                    }
                    for kd in 0..<3 {
                        for xw in 0..<6 {
                            let r = gtApply(b + kd * 36 + xw, 6)
                            let o = a + kd * 18 + xw
                            o[0] = r.0; o[6] = r.1; o[12] = r.2
                        }
                    }
                    for line in 0..<9 {
                        let r = gtApply(a + line * 6, 1)
                        for l in 0..<count {
                            let q = pair + l
                            let o = dw + (stride == cin ? q : q / cin * stride + q % cin) * 27 + 3 * line
                            o[0] += Float(r.0[l]); o[1] += Float(r.1[l]); o[2] += Float(r.2[l])
                        }
                    }
                }
            }
        }
    }
}
