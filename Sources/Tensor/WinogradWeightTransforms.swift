// Winograd F(2×2×2, 3×3×3): the weight-side transforms.
//
//   G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]      kernel g (3) → 4          (forward, input gradient)
//   Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1]       transformed gradient (4) → kernel gradient (3)
// applied along each of the three axes. Component ξ = ξz·16 + ξy·4 + ξw, as in the tile transforms.

/// G on eight lanes (eight channel pairs): (g0, ½(g0 + g1 + g2), ½(g0 − g1 + g2), g2), evaluated
/// in this order in Float in every lane.
@inline(__always)
private func kernelTransform8(_ g0: SIMD8<Float>, _ g1: SIMD8<Float>, _ g2: SIMD8<Float>)
    -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    (g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2)
}

/// Gᵀ on eight lanes: (u0 + ½(u1 + u2), ½(u1 − u2), ½(u1 + u2) + u3) in Float in every lane.
@inline(__always)
private func kernelGradientTransform8(_ u0: SIMD8<Float>, _ u1: SIMD8<Float>, _ u2: SIMD8<Float>, _ u3: SIMD8<Float>)
    -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    (u0 + 0.5 * (u1 + u2), 0.5 * (u1 - u2), 0.5 * (u1 + u2) + u3)
}

@inline(__always)
private func storeEight(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    p[0] = v[0]; p[1] = v[1]; p[2] = v[2]; p[3] = v[3]; p[4] = v[4]; p[5] = v[5]; p[6] = v[6]; p[7] = v[7]
}

enum WinogradWeightTransforms {
    /// Number of transformed components per (output, input) channel pair: 4³.
    static let components = 64
    /// Number of kernel taps: 3³.
    static let taps = 27
    /// Channel pairs transformed together (one SIMD8 lane each).
    static let lanes = 8

    /// U[ξ][co][ci] = (G g Gᵀ)_ξ of w[co][ci] (forward, `flipTranspose == false`), or
    /// U[ξ][ci][co] of the spatially flipped kernel w[co][ci][2−k] (input gradient, `true`).
    /// `w` is [cout, cin, 3, 3, 3]; `u` receives 64·cout·cin floats.
    ///
    /// Eight channel pairs adjacent in U go through the transform together, one per lane, so each
    /// of the 64 component planes receives one 32-byte store per block instead of one scattered
    /// 4-byte store per pair (64 streams `cout·cin` floats apart, which map to the same cache
    /// sets: docs/performance.md). Per lane the operations are those of the one-pair transform,
    /// so U is bit-identical to it.
    static func transform(w: UnsafePointer<Float>, cout: Int, cin: Int, flipTranspose: Bool,
                          u: UnsafeMutablePointer<Float>) {
        let matrix = cout * cin
        // Rows of U (co, or ci when transposed) split over threads; within a row the writes are
        // contiguous in the other channel.
        let (rows, columns) = flipTranspose ? (cin, cout) : (cout, cin)
        // w's stride between consecutive columns of a row of U.
        let columnStride = flipTranspose ? cin * taps : taps
        Parallel.forEach(0..<rows) { range in
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 27 + 36 + 48) { buffer in
                let g = buffer.baseAddress!, t1 = g + 27, t2 = t1 + 36   // t1 [z 3][y 3][ξw 4], t2 [z 3][ξy 4][ξw 4]
                for row in range {
                    let first = flipTranspose ? w + row * taps : w + row * cin * taps
                    var column = 0
                    while column < columns {
                        let count = min(lanes, columns - column)
                        let k0 = first + column * columnStride
                        // g[tap] over the block's pairs; the flipped kernel reads tap 26 − k.
                        if count == lanes {
                            let s = columnStride
                            for k in 0..<taps {
                                let p = k0 + (flipTranspose ? 26 - k : k)
                                g[k] = SIMD8(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s])
                            }
                        } else {
                            for k in 0..<taps {
                                let p = k0 + (flipTranspose ? 26 - k : k)
                                var v = SIMD8<Float>.zero
                                for l in 0..<count { v[l] = p[l * columnStride] }
                                g[k] = v
                            }
                        }
                        // Along x, then y, then z, as in the one-pair transform.
                        for zy in 0..<9 {
                            let r = kernelTransform8(g[zy * 3], g[zy * 3 + 1], g[zy * 3 + 2])
                            let b = zy * 4
                            t1[b] = r.0; t1[b + 1] = r.1; t1[b + 2] = r.2; t1[b + 3] = r.3
                        }
                        for z in 0..<3 {
                            for xiw in 0..<4 {
                                let r = kernelTransform8(t1[(z * 3) * 4 + xiw], t1[(z * 3 + 1) * 4 + xiw],
                                                         t1[(z * 3 + 2) * 4 + xiw])
                                t2[z * 16 + xiw] = r.0; t2[z * 16 + 4 + xiw] = r.1
                                t2[z * 16 + 8 + xiw] = r.2; t2[z * 16 + 12 + xiw] = r.3
                            }
                        }
                        let o = u + row * columns + column
                        for yw in 0..<16 {
                            let r = kernelTransform8(t2[yw], t2[16 + yw], t2[32 + yw])
                            if count == lanes {
                                storeEight(r.0, o + yw * matrix); storeEight(r.1, o + (16 + yw) * matrix)
                                storeEight(r.2, o + (32 + yw) * matrix); storeEight(r.3, o + (48 + yw) * matrix)
                            } else {
                                for l in 0..<count {
                                    o[yw * matrix + l] = r.0[l]; o[(16 + yw) * matrix + l] = r.1[l]
                                    o[(32 + yw) * matrix + l] = r.2[l]; o[(48 + yw) * matrix + l] = r.3[l]
                                }
                            }
                        }
                        column += lanes
                    }
                }
            }
        }
    }

    /// dw[co][ci] += Gᵀ dU G over the three axes, where dU is [64][cout][cin] (the gradient of
    /// the transformed weights) and dw is [cout, cin, 3, 3, 3]. Eight adjacent pairs per block,
    /// one per lane (contiguous 32-byte loads from each component plane); per lane the operations
    /// and the single `+=` per tap are those of the one-pair transform (bit-identical).
    /// `dwRowStride`: input channels per output channel in dw (nil: cin; more when dU is a block
    /// of dw's columns); `threads`: nil = `Parallel.defaultThreads`.
    static func accumulateGradient(du: UnsafePointer<Float>, cout: Int, cin: Int, dw: UnsafeMutablePointer<Float>,
                                   dwRowStride: Int? = nil, threads: Int? = nil) {
        let matrix = cout * cin
        let blocks = (matrix + lanes - 1) / lanes
        let stride = dwRowStride ?? cin
        Parallel.forEach(0..<blocks, threads: threads ?? Parallel.defaultThreads) { range in
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 64 + 48 + 36) { buffer in
                let x = buffer.baseAddress!, t1 = x + 64, t2 = t1 + 48   // t1 [z 3][ξy 4][ξw 4], t2 [z 3][y 3][ξw 4]
                for block in range {
                    let pair = block * lanes, count = min(lanes, matrix - pair)
                    for xi in 0..<64 {
                        let p = du + xi * matrix + pair
                        if count == lanes {
                            x[xi] = loadEight(p)
                        } else {
                            var v = SIMD8<Float>.zero
                            for l in 0..<count { v[l] = p[l] }
                            x[xi] = v
                        }
                    }
                    for yw in 0..<16 {
                        let r = kernelGradientTransform8(x[yw], x[16 + yw], x[32 + yw], x[48 + yw])
                        t1[yw] = r.0; t1[16 + yw] = r.1; t1[32 + yw] = r.2
                    }
                    for z in 0..<3 {
                        for xiw in 0..<4 {
                            let b = z * 16 + xiw
                            let r = kernelGradientTransform8(t1[b], t1[b + 4], t1[b + 8], t1[b + 12])
                            t2[(z * 3) * 4 + xiw] = r.0; t2[(z * 3 + 1) * 4 + xiw] = r.1; t2[(z * 3 + 2) * 4 + xiw] = r.2
                        }
                    }
                    for zy in 0..<9 {
                        let b = zy * 4
                        let r = kernelGradientTransform8(t2[b], t2[b + 1], t2[b + 2], t2[b + 3])
                        for l in 0..<count {
                            let q = pair + l
                            let g = dw + (stride == cin ? q : q / cin * stride + q % cin) * taps + zy * 3
                            g[0] += r.0[l]; g[1] += r.1[l]; g[2] += r.2[l]
                        }
                    }
                }
            }
        }
    }
}
