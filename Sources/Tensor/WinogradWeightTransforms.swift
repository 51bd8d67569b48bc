// Winograd F(2×2×2, 3×3×3): the weight-side transforms.
//
//   G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]      kernel g (3) → 4          (forward, input gradient)
//   Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1]       transformed gradient (4) → kernel gradient (3)
// applied along each of the three axes. Component ξ = ξz·16 + ξy·4 + ξw, as in the tile transforms.

/// G applied to one axis of three kernel taps.
@inline(__always)
private func kernelTransform(_ g0: Float, _ g1: Float, _ g2: Float) -> (Float, Float, Float, Float) {
    (g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2)
}

/// Gᵀ applied to one axis of four transformed values.
@inline(__always)
private func kernelGradientTransform(_ u0: Float, _ u1: Float, _ u2: Float, _ u3: Float) -> (Float, Float, Float) {
    (u0 + 0.5 * (u1 + u2), 0.5 * (u1 - u2), 0.5 * (u1 + u2) + u3)
}

enum WinogradWeightTransforms {
    /// Number of transformed components per (output, input) channel pair: 4³.
    static let components = 64
    /// Number of kernel taps: 3³.
    static let taps = 27

    /// U[ξ][co][ci] = (G g Gᵀ)_ξ of w[co][ci] (forward, `flipTranspose == false`), or
    /// U[ξ][ci][co] of the spatially flipped kernel w[co][ci][2−k] (input gradient, `true`).
    /// `w` is [cout, cin, 3, 3, 3]; `u` receives 64·cout·cin floats.
    static func transform(w: UnsafePointer<Float>, cout: Int, cin: Int, flipTranspose: Bool,
                          u: UnsafeMutablePointer<Float>) {
        let matrix = cout * cin
        // Rows of U (co, or ci when transposed) split over threads; within a row the writes are
        // contiguous in the other channel.
        let (rows, columns) = flipTranspose ? (cin, cout) : (cout, cin)
        Parallel.forEach(0..<rows) { range in
            var t1 = [Float](repeating: 0, count: 36)   // [z 3][y 3][ξw 4]
            var t2 = [Float](repeating: 0, count: 48)   // [z 3][ξy 4][ξw 4]
            for row in range {
                for column in 0..<columns {
                    let (co, ci) = flipTranspose ? (column, row) : (row, column)
                    let g = w + (co * cin + ci) * taps
                    @inline(__always) func tap(_ z: Int, _ y: Int, _ x: Int) -> Float {
                        flipTranspose ? g[(2 - z) * 9 + (2 - y) * 3 + (2 - x)] : g[z * 9 + y * 3 + x]
                    }
                    // Along x, then y, then z: t1[z][y][ξw], t2[z][ξy][ξw], result[ξz][ξy][ξw].
                    for z in 0..<3 {
                        for y in 0..<3 {
                            let r = kernelTransform(tap(z, y, 0), tap(z, y, 1), tap(z, y, 2))
                            let b = (z * 3 + y) * 4
                            t1[b] = r.0; t1[b + 1] = r.1; t1[b + 2] = r.2; t1[b + 3] = r.3
                        }
                    }
                    for z in 0..<3 {
                        for xiw in 0..<4 {
                            let r = kernelTransform(t1[(z * 3) * 4 + xiw], t1[(z * 3 + 1) * 4 + xiw], t1[(z * 3 + 2) * 4 + xiw])
                            t2[z * 16 + xiw] = r.0; t2[z * 16 + 4 + xiw] = r.1
                            t2[z * 16 + 8 + xiw] = r.2; t2[z * 16 + 12 + xiw] = r.3
                        }
                    }
                    let offset = row * columns + column
                    for yw in 0..<16 {
                        let r = kernelTransform(t2[yw], t2[16 + yw], t2[32 + yw])
                        u[yw * matrix + offset] = r.0
                        u[(16 + yw) * matrix + offset] = r.1
                        u[(32 + yw) * matrix + offset] = r.2
                        u[(48 + yw) * matrix + offset] = r.3
                    }
                }
            }
        }
    }

    /// dw[co][ci] += Gᵀ dU G over the three axes, where dU is [64][cout][cin] (the gradient of
    /// the transformed weights) and dw is [cout, cin, 3, 3, 3].
    static func accumulateGradient(du: UnsafePointer<Float>, cout: Int, cin: Int, dw: UnsafeMutablePointer<Float>) {
        let matrix = cout * cin
        Parallel.forEach(0..<matrix) { range in
            var t1 = [Float](repeating: 0, count: 48)   // [z 3][ξy 4][ξw 4]
            var t2 = [Float](repeating: 0, count: 36)   // [z 3][y 3][ξw 4]
            for pair in range {
                for yw in 0..<16 {
                    let r = kernelGradientTransform(du[yw * matrix + pair], du[(16 + yw) * matrix + pair],
                                                    du[(32 + yw) * matrix + pair], du[(48 + yw) * matrix + pair])
                    t1[yw] = r.0; t1[16 + yw] = r.1; t1[32 + yw] = r.2
                }
                for z in 0..<3 {
                    for xiw in 0..<4 {
                        let b = z * 16 + xiw
                        let r = kernelGradientTransform(t1[b], t1[b + 4], t1[b + 8], t1[b + 12])
                        t2[(z * 3) * 4 + xiw] = r.0; t2[(z * 3 + 1) * 4 + xiw] = r.1; t2[(z * 3 + 2) * 4 + xiw] = r.2
                    }
                }
                let g = dw + pair * taps
                for z in 0..<3 {
                    for y in 0..<3 {
                        let b = (z * 3 + y) * 4
                        let r = kernelGradientTransform(t2[b], t2[b + 1], t2[b + 2], t2[b + 3])
                        g[z * 9 + y * 3] += r.0; g[z * 9 + y * 3 + 1] += r.1; g[z * 9 + y * 3 + 2] += r.2
                    }
                }
            }
        }
    }
}
