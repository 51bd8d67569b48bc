// Winograd F(4×4×4, 3×3×3): the tile transforms of one tile row (n, td, th) of one channel,
// portable Swift on vectors of 8 tiles along W.
//
// Per axis (Lavin & Gray, points 0, ±1, ±2):
//   Bᵀ (6×6) on input tiles,  Aᵀ (4×6) on GEMM products,  A (6×4) on output-gradient tiles.
// Each transform runs W first (a voxel line copied into a zero-padded buffer, 8 tiles gathered
// with stride 4), then H, then D, on [line][component][tile] scratch rows `rowStride` wide; the
// last pass writes component ξ = (ξd·6 + ξh)·6 + ξw of local tile t to out[ξ·xiStride + t] in
// whole vectors: up to 7 columns past the row's tilesW are overwritten (see WinogradF43Plan.rowStride).

//
// `inputRow`, `outputRow` and `gradientRow` run the C ports (bit-identical): AVX-512, 16 tiles per
// vector (CKernels/winograd_f43_transforms_avx512.c) where the CPU has it, else AVX2 + FMA, 8 tiles
// (winograd_f43_transforms.c); the `portable…` Swift bodies with DRO_PORTABLE_KERNELS=1, without
// AVX2 + FMA, or with DRO_WINOGRAD_TRANSFORMS=swift. DRO_WINOGRAD_TRANSFORMS=avx2 picks the AVX2
// ports (as for F(2,3): `WinogradTransformsC.preferred`).
//
// With the AVX-512 kernels, rows of 4 tiles (16³) go four to a 512-bit vector instead
// (`inputRows`, `outputRows`, `gradientRows`; `rowGroup`), bit-identical per row.

import CKernels
#if canImport(Glibc)
import Glibc
#endif

enum WinogradF43Transforms {
    typealias V = SIMD8<Float>
    typealias Kernel = WinogradTransformsC.Kernel

    /// The C transforms that run, nil for Swift (read once per process).
    static let kernel: Kernel? = WinogradTransformsC.preferred

    /// Name for `KernelChoice`: "avx512", "avx2" or "swift".
    static var kernelName: String {
        switch kernel {
        case .avx512?: return "avx512"
        case .avx2?: return "avx2"
        case nil: return "swift"
        }
    }

    /// The plane and tile row of the caller's next call of the same transform: the AVX-512
    /// kernels prefetch its voxel lines while they work on this row (one line per line they
    /// touch). A hint only: results never depend on it; the AVX2 and Swift kernels ignore it.
    struct NextRow {
        let plane: UnsafePointer<Float>
        let td: Int, th: Int
    }

    @inline(__always)
    static func inputRow(plane: UnsafePointer<Float>, plan: WinogradF43Plan, td: Int, th: Int,
                         out: UnsafeMutablePointer<Float>, xiStride: Int, scratch: UnsafeMutablePointer<Float>,
                         next: NextRow? = nil, kernel: Kernel? = kernel) {
        switch kernel {
        case .avx512?:
            dro_winograd_f43_input_row_avx512(plane, Int64(plan.d), Int64(plan.h), Int64(plan.w),
                                              Int64(plan.vectorTiles), Int64(td), Int64(th), out, Int64(xiStride),
                                              scratch, next?.plane, Int64(next?.td ?? 0), Int64(next?.th ?? 0))
        case .avx2?:
            dro_winograd_f43_input_row_avx2(plane, Int64(plan.d), Int64(plan.h), Int64(plan.w), Int64(plan.vectorTiles),
                                            Int64(td), Int64(th), out, Int64(xiStride), scratch)
        case nil:
            portableInputRow(plane: plane, plan: plan, td: td, th: th, out: out, xiStride: xiStride, scratch: scratch)
        }
    }

    @inline(__always)
    static func outputRow(src: UnsafePointer<Float>, xiStride: Int, plane: UnsafeMutablePointer<Float>,
                          plan: WinogradF43Plan, td: Int, th: Int, bias: Float, scratch: UnsafeMutablePointer<Float>,
                          next: NextRow? = nil, kernel: Kernel? = kernel) {
        switch kernel {
        case .avx512?:
            dro_winograd_f43_output_row_avx512(src, Int64(xiStride), plane, Int64(plan.d), Int64(plan.h),
                                               Int64(plan.w), Int64(plan.vectorTiles), Int64(td), Int64(th), bias,
                                               scratch, next.map { UnsafeMutablePointer(mutating: $0.plane) },
                                               Int64(next?.td ?? 0), Int64(next?.th ?? 0))
        case .avx2?:
            dro_winograd_f43_output_row_avx2(src, Int64(xiStride), plane, Int64(plan.d), Int64(plan.h), Int64(plan.w),
                                             Int64(plan.vectorTiles), Int64(td), Int64(th), bias, scratch)
        case nil:
            portableOutputRow(src: src, xiStride: xiStride, plane: plane, plan: plan, td: td, th: th, bias: bias,
                              scratch: scratch)
        }
    }

    @inline(__always)
    static func gradientRow(plane: UnsafePointer<Float>, plan: WinogradF43Plan, td: Int, th: Int,
                            out: UnsafeMutablePointer<Float>, xiStride: Int, scratch: UnsafeMutablePointer<Float>,
                            next: NextRow? = nil, kernel: Kernel? = kernel) {
        switch kernel {
        case .avx512?:
            dro_winograd_f43_gradient_row_avx512(plane, Int64(plan.d), Int64(plan.h), Int64(plan.w),
                                                 Int64(plan.vectorTiles), Int64(td), Int64(th), out, Int64(xiStride),
                                                 scratch, next?.plane, Int64(next?.td ?? 0), Int64(next?.th ?? 0))
        case .avx2?:
            dro_winograd_f43_gradient_row_avx2(plane, Int64(plan.d), Int64(plan.h), Int64(plan.w),
                                               Int64(plan.vectorTiles), Int64(td), Int64(th), out, Int64(xiStride),
                                               scratch)
        case nil:
            portableGradientRow(plane: plane, plan: plan, td: td, th: th, out: out, xiStride: xiStride, scratch: scratch)
        }
    }

    /// Floats of scratch one worker needs for a row of `rowStride` tiles.
    static func scratchFloats(rowStride rs: Int) -> Int { 432 * rs + 4 * rs + 32 }

    // MARK: - One-axis transforms

    /// Bᵀ d.
    @inline(__always)
    static func bt(_ d0: V, _ d1: V, _ d2: V, _ d3: V, _ d4: V, _ d5: V) -> (V, V, V, V, V, V) {
        let a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1)
        return (4 * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, 4 * d1 - 5 * d3 + d5)
    }

    /// Aᵀ m.
    @inline(__always)
    static func at(_ m0: V, _ m1: V, _ m2: V, _ m3: V, _ m4: V, _ m5: V) -> (V, V, V, V) {
        let s = m1 + m2, t = m1 - m2, u = m3 + m4, v = m3 - m4
        return (m0 + s + u, t + 2 * v, s + 4 * u, t + 8 * v + m5)
    }

    /// A g (g: 4 output-gradient values → 6 components).
    @inline(__always)
    static func a(_ g0: V, _ g1: V, _ g2: V, _ g3: V) -> (V, V, V, V, V, V) {
        let s = g0 + g2, q = g1 + g3, s4 = g0 + 4 * g2, q4 = 2 * g1 + 8 * g3
        return (g0, s + q, s - q, s4 + q4, s4 - q4, g3)
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { V(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]) }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        p[0] = v[0]; p[1] = v[1]; p[2] = v[2]; p[3] = v[3]; p[4] = v[4]; p[5] = v[5]; p[6] = v[6]; p[7] = v[7]
    }

    /// Elements p[0], p[4], …, p[28]: one value of each of 8 consecutive tiles.
    @inline(__always)
    static func gather4(_ p: UnsafePointer<Float>) -> V {
        V(p[0], p[4], p[8], p[12], p[16], p[20], p[24], p[28])
    }

    /// Copies line[0..<w] to pad[offset...] and zeroes the rest of pad[0..<4·rs + 8].
    @inline(__always)
    static func padLine(_ line: UnsafePointer<Float>, w: Int, offset: Int, rs: Int, pad: UnsafeMutablePointer<Float>) {
        let count = 4 * rs + 8
        if offset > 0 { pad.update(repeating: 0, count: offset) }
        (pad + offset).update(from: line, count: w)
        (pad + offset + w).update(repeating: 0, count: count - offset - w)
    }

    // MARK: - Input: Bᵀ x B

    /// Transforms the tiles of row (td, th) of one channel plane [d, h, w] into
    /// out[ξ·xiStride + t], t < plan.vectorTiles (columns past tilesW: transforms of zeros).
    static func portableInputRow(plane: UnsafePointer<Float>, plan: WinogradF43Plan, td: Int, th: Int,
                                 out: UnsafeMutablePointer<Float>, xiStride: Int, scratch: UnsafeMutablePointer<Float>) {
        let rs = plan.vectorTiles, w = plan.w, h = plan.h, d = plan.d
        let wl = scratch, hb = scratch + 216 * rs, pad = scratch + 432 * rs
        // W: line (zi, yi) → wl[((zi·6 + yi)·6 + ξw)·rs + t].
        for zi in 0..<6 {
            let z = 4 * td - 1 + zi
            for yi in 0..<6 {
                let y = 4 * th - 1 + yi
                let base = wl + (zi * 6 + yi) * 6 * rs
                guard z >= 0, z < d, y >= 0, y < h else { base.update(repeating: 0, count: 6 * rs); continue }
                padLine(plane + (z * h + y) * w, w: w, offset: 1, rs: rs, pad: pad)
                var t = 0
                while t < rs {
                    let p = pad + 4 * t
                    let r = bt(gather4(p), gather4(p + 1), gather4(p + 2), gather4(p + 3), gather4(p + 4), gather4(p + 5))
                    store(r.0, base + t); store(r.1, base + rs + t); store(r.2, base + 2 * rs + t)
                    store(r.3, base + 3 * rs + t); store(r.4, base + 4 * rs + t); store(r.5, base + 5 * rs + t)
                    t += 8
                }
            }
        }
        // H: yi (stride 6·rs) → ξh, hb[((zi·6 + ξh)·6 + ξw)·rs + t].
        for zi in 0..<6 {
            for xw in 0..<6 {
                let src = wl + (zi * 36 + xw) * rs, dst = hb + (zi * 36 + xw) * rs
                let s = 6 * rs
                var t = 0
                while t < rs {
                    let p = src + t
                    let r = bt(load(p), load(p + s), load(p + 2 * s), load(p + 3 * s), load(p + 4 * s), load(p + 5 * s))
                    let q = dst + t
                    store(r.0, q); store(r.1, q + s); store(r.2, q + 2 * s)
                    store(r.3, q + 3 * s); store(r.4, q + 4 * s); store(r.5, q + 5 * s)
                    t += 8
                }
            }
        }
        // D: zi (stride 36·rs) → ξd, out[((ξd·6 + ξh)·6 + ξw)·xiStride + t].
        for hw in 0..<36 {
            let src = hb + hw * rs, dst = out + hw * xiStride
            let s = 36 * rs, o = 36 * xiStride
            var t = 0
            while t < rs {
                let p = src + t
                let r = bt(load(p), load(p + s), load(p + 2 * s), load(p + 3 * s), load(p + 4 * s), load(p + 5 * s))
                let q = dst + t
                store(r.0, q); store(r.1, q + o); store(r.2, q + 2 * o)
                store(r.3, q + 3 * o); store(r.4, q + 4 * o); store(r.5, q + 5 * o)
                t += 8
            }
        }
    }

    // MARK: - Output: Aᵀ m A

    /// From the products src[ξ·xiStride + t] of row (td, th), writes the valid outputs of the
    /// row's tiles into `plane` [d, h, w] (plus `bias`), overwriting them.
    static func portableOutputRow(src: UnsafePointer<Float>, xiStride: Int, plane: UnsafeMutablePointer<Float>,
                                  plan: WinogradF43Plan, td: Int, th: Int, bias: Float,
                                  scratch: UnsafeMutablePointer<Float>) {
        let rs = plan.vectorTiles, w = plan.w, h = plan.h, d = plan.d
        let depth = min(4, d - 4 * td), height = min(4, h - 4 * th)
        let ob1 = scratch, ob2 = scratch + 144 * rs, line = scratch + 240 * rs
        // D: ξd (stride 36·xiStride) → od, ob1[((od·6 + ξh)·6 + ξw)·rs + t].
        for hw in 0..<36 {
            let p0 = src + hw * xiStride, dst = ob1 + hw * rs
            let s = 36 * xiStride, o = 36 * rs
            var t = 0
            while t < rs {
                let p = p0 + t
                let r = at(load(p), load(p + s), load(p + 2 * s), load(p + 3 * s), load(p + 4 * s), load(p + 5 * s))
                let q = dst + t
                store(r.0, q)
                if depth > 1 { store(r.1, q + o) }
                if depth > 2 { store(r.2, q + 2 * o) }
                if depth > 3 { store(r.3, q + 3 * o) }
                t += 8
            }
        }
        // H: ξh (stride 6·rs) → oh, ob2[((od·4 + oh)·6 + ξw)·rs + t].
        for od in 0..<depth {
            for xw in 0..<6 {
                let p0 = ob1 + (od * 36 + xw) * rs, dst = ob2 + (od * 24 + xw) * rs
                let s = 6 * rs
                var t = 0
                while t < rs {
                    let p = p0 + t
                    let r = at(load(p), load(p + s), load(p + 2 * s), load(p + 3 * s), load(p + 4 * s), load(p + 5 * s))
                    let q = dst + t
                    store(r.0, q); store(r.1, q + s); store(r.2, q + 2 * s); store(r.3, q + 3 * s)
                    t += 8
                }
            }
        }
        // W: ξw (stride rs) → ow, interleaved into a line, then cropped to w with the bias.
        for od in 0..<depth {
            for oh in 0..<height {
                let p0 = ob2 + (od * 4 + oh) * 6 * rs
                var t = 0
                while t < rs {
                    let p = p0 + t
                    let r = at(load(p), load(p + rs), load(p + 2 * rs), load(p + 3 * rs), load(p + 4 * rs),
                               load(p + 5 * rs))
                    let q = line + 4 * t
                    for l in 0..<8 {
                        q[4 * l] = r.0[l]; q[4 * l + 1] = r.1[l]; q[4 * l + 2] = r.2[l]; q[4 * l + 3] = r.3[l]
                    }
                    t += 8
                }
                let dst = plane + ((4 * td + od) * h + 4 * th + oh) * w
                for x in 0..<w { dst[x] = line[x] + bias }
            }
        }
    }

    // MARK: - Output gradient: A g Aᵀ

    /// Transforms the 4×4×4 output-gradient tiles of row (td, th) of one channel plane [d, h, w]
    /// (zero beyond the volume) into out[ξ·xiStride + t], t < plan.vectorTiles.
    static func portableGradientRow(plane: UnsafePointer<Float>, plan: WinogradF43Plan, td: Int, th: Int,
                                    out: UnsafeMutablePointer<Float>, xiStride: Int, scratch: UnsafeMutablePointer<Float>) {
        let rs = plan.vectorTiles, w = plan.w, h = plan.h, d = plan.d
        let wl = scratch, hb = scratch + 96 * rs, pad = scratch + 432 * rs
        // W: line (zi, yi) → wl[((zi·4 + yi)·6 + ξw)·rs + t].
        for zi in 0..<4 {
            let z = 4 * td + zi
            for yi in 0..<4 {
                let y = 4 * th + yi
                let base = wl + (zi * 4 + yi) * 6 * rs
                guard z < d, y < h else { base.update(repeating: 0, count: 6 * rs); continue }
                padLine(plane + (z * h + y) * w, w: w, offset: 0, rs: rs, pad: pad)
                var t = 0
                while t < rs {
                    let p = pad + 4 * t
                    let r = a(gather4(p), gather4(p + 1), gather4(p + 2), gather4(p + 3))
                    store(r.0, base + t); store(r.1, base + rs + t); store(r.2, base + 2 * rs + t)
                    store(r.3, base + 3 * rs + t); store(r.4, base + 4 * rs + t); store(r.5, base + 5 * rs + t)
                    t += 8
                }
            }
        }
        // H: yi (stride 6·rs) → ξh, hb[((zi·6 + ξh)·6 + ξw)·rs + t].
        for zi in 0..<4 {
            for xw in 0..<6 {
                let src = wl + (zi * 24 + xw) * rs, dst = hb + (zi * 36 + xw) * rs
                let s = 6 * rs
                var t = 0
                while t < rs {
                    let p = src + t
                    let r = a(load(p), load(p + s), load(p + 2 * s), load(p + 3 * s))
                    let q = dst + t
                    store(r.0, q); store(r.1, q + s); store(r.2, q + 2 * s)
                    store(r.3, q + 3 * s); store(r.4, q + 4 * s); store(r.5, q + 5 * s)
                    t += 8
                }
            }
        }
        // D: zi (stride 36·rs) → ξd.
        for hw in 0..<36 {
            let src = hb + hw * rs, dst = out + hw * xiStride
            let s = 36 * rs, o = 36 * xiStride
            var t = 0
            while t < rs {
                let p = src + t
                let r = a(load(p), load(p + s), load(p + 2 * s), load(p + 3 * s))
                let q = dst + t
                store(r.0, q); store(r.1, q + o); store(r.2, q + 2 * o)
                store(r.3, q + 3 * o); store(r.4, q + 4 * o); store(r.5, q + 5 * o)
                t += 8
            }
        }
    }
}
