// Winograd F(2×2×2, 3×3×3): the data-side tile transforms of one row of tiles.
//
// A "row" is the tilesW tiles sharing (sample n, tile depth td, tile height th). Every kernel here
// is vectorised across the tiles of a row (lane k = tile tw + k), so each of the 64 transformed
// components ξ = ξz·16 + ξy·4 + ξw is stored as a contiguous run of the row's tiles in a chunk
// buffer laid out [channel][ξ][tile] (component stride `xiStride`, channel stride 64·xiStride).
// Component ξ of all channels is then a channels × tiles matrix with row stride 64·xiStride: the
// operands of the 64 GEMMs. (The input transform is in WinogradInputTransform.swift.)
//
// F(2,3) matrices (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"),
// applied along each of the three axes:
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   input tile d (4) → 4
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]                       product m (4) → output (2)
//   A  = (Aᵀ)ᵀ                                       output gradient (2) → 4 (weight gradient)
// Input tile (td, th, tw) covers voxels 2t−1 … 2t+2 on each axis (padding 1); outside is zero.

/// Lane vector used by the tile kernels: one lane per tile of a row.
typealias WinogradLanes = SIMD4<Float>

// Unaligned vector access is spelled as element-wise loads and stores, which LLVM merges into
// single unaligned vector moves. (The standard library's loadUnaligned/storeBytes were left as
// out-of-line calls in `-enable-testing` release builds, halving the transforms' speed.)

@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>) -> WinogradLanes {
    WinogradLanes(p[0], p[1], p[2], p[3])
}

@inline(__always)
func loadEight(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    SIMD8<Float>(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
}

/// Stores the first `count` lanes (all when count ≥ lane count): the last vector of a row is partial.
@inline(__always)
func storeLanes(_ v: WinogradLanes, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    if count >= WinogradLanes.scalarCount {
        p[0] = v[0]; p[1] = v[1]; p[2] = v[2]; p[3] = v[3]
    } else {
        for k in 0..<count { p[k] = v[k] }
    }
}

/// Stores a whole lane vector (rows are padded to whole vectors, see WinogradPlan.rowStride).
@inline(__always)
func storeVector(_ v: WinogradLanes, _ p: UnsafeMutablePointer<Float>) {
    p[0] = v[0]; p[1] = v[1]; p[2] = v[2]; p[3] = v[3]
}

/// Bᵀ applied to one axis: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
@inline(__always)
func inputTransform(_ d0: WinogradLanes, _ d1: WinogradLanes, _ d2: WinogradLanes, _ d3: WinogradLanes)
    -> (WinogradLanes, WinogradLanes, WinogradLanes, WinogradLanes) {
    (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
}

/// A applied to one axis of an output gradient: (g0, g0 + g1, g0 − g1, −g1).
@inline(__always)
private func gradientTransform(_ g0: WinogradLanes, _ g1: WinogradLanes)
    -> (WinogradLanes, WinogradLanes, WinogradLanes, WinogradLanes) {
    (g0, g0 + g1, g0 - g1, -g1)
}

/// Number of floats one deinterleaved line buffer needs for a row of `tilesW` tiles.
@inline(__always)
func winogradLineLength(tilesW: Int) -> Int {
    // tiles rounded up to whole vectors, plus the "+1" neighbour read by the last tile.
    (tilesW + WinogradLanes.scalarCount - 1) / WinogradLanes.scalarCount * WinogradLanes.scalarCount
        + WinogradLanes.scalarCount
}

/// Splits the voxels of one line into even[m] = x[2m−1] and odd[m] = x[2m] (zero outside 0..<w),
/// so tile tw reads d0…d3 = even[tw], odd[tw], even[tw+1], odd[tw+1] with unit stride.
/// `shift` is 1 for input tiles (which start one voxel before the output tile) and 0 for output
/// gradient tiles (even[m] = g[2m], odd[m] = g[2m+1]).
@inline(__always)
func deinterleave(_ src: UnsafePointer<Float>?, w: Int, shift: Int,
                          even: UnsafeMutablePointer<Float>, odd: UnsafeMutablePointer<Float>, length: Int) {
    guard let src else {
        even.update(repeating: 0, count: length)
        odd.update(repeating: 0, count: length)
        return
    }
    // Voxel x goes to (x + shift) / 2 of odd (x + shift odd) or even; pairs first, then the tail.
    let first = shift == 1 ? odd : even, second = shift == 1 ? even + 1 : odd
    let pairs = w / 2
    for m in 0..<pairs {
        first[m] = src[2 * m]
        second[m] = src[2 * m + 1]
    }
    var firstEnd = pairs, secondEnd = pairs + (shift == 1 ? 1 : 0)
    if w & 1 == 1 { first[pairs] = src[w - 1]; firstEnd += 1 }
    if shift == 1 { even[0] = 0 }
    (first + firstEnd).update(repeating: 0, count: length - firstEnd)
    (shift == 1 ? even + secondEnd : odd + secondEnd).update(repeating: 0, count: length - secondEnd)
}

/// Stores the four ξy components of one ξw at stride 4 (stage layout ξy·4 + ξw).
@inline(__always)
private func storeGradientY(_ r: (WinogradLanes, WinogradLanes, WinogradLanes, WinogradLanes),
                            _ p: UnsafeMutablePointer<WinogradLanes>) {
    p[0] = r.0; p[4] = r.1; p[8] = r.2; p[12] = r.3
}

enum WinogradTileTransforms {
    /// Aᵀ m A on every tile of one row of one output channel: reads component ξ of tile tw at
    /// src[ξ·xiStride + tw], writes the valid voxels of the 2×2×2 outputs into plane [d, h, w]
    /// (plus `bias`). `rowBuffer` holds 4 × 2·winogradLineLength(tilesW) floats; `stage` 32 vectors.
    static func outputRow(src: UnsafePointer<Float>, xiStride: Int, plane: UnsafeMutablePointer<Float>,
                          d: Int, h: Int, w: Int, td: Int, th: Int, tilesW: Int, bias: Float,
                          rowBuffer: UnsafeMutablePointer<Float>, stage: UnsafeMutablePointer<WinogradLanes>) {
        let lanes = WinogradLanes.scalarCount
        let rowLength = 2 * winogradLineLength(tilesW: tilesW)
        var m = 0
        while m < tilesW {
            // Z axis: (m0 + m1 + m2, m1 − m2 − m3) for each of the 16 (ξy, ξw); stage[a·16 + ξy·4 + ξw].
            for yw in 0..<16 {
                let p = src + yw * xiStride + m
                let a0 = loadLanes(p), a1 = loadLanes(p + 16 * xiStride)
                let a2 = loadLanes(p + 32 * xiStride), a3 = loadLanes(p + 48 * xiStride)
                stage[yw] = a0 + a1 + a2
                stage[16 + yw] = a1 - a2 - a3
            }
            for a in 0..<2 {
                let s = stage + a * 16
                for b in 0..<2 {
                    // Y axis then W axis for output row (a, b); interleave the two W outputs.
                    let y0 = b == 0 ? s[0] + s[4] + s[8] : s[4] - s[8] - s[12]
                    let y1 = b == 0 ? s[1] + s[5] + s[9] : s[5] - s[9] - s[13]
                    let y2 = b == 0 ? s[2] + s[6] + s[10] : s[6] - s[10] - s[14]
                    let y3 = b == 0 ? s[3] + s[7] + s[11] : s[7] - s[11] - s[15]
                    let c0 = y0 + y1 + y2, c1 = y1 - y2 - y3
                    // Interleave the two W outputs of 4 tiles (written for 4-lane vectors).
                    let dst = rowBuffer + (a * 2 + b) * rowLength + 2 * m
                    storeLanes(WinogradLanes(c0[0], c1[0], c0[1], c1[1]), dst, lanes)
                    storeLanes(WinogradLanes(c0[2], c1[2], c0[3], c1[3]), dst + 4, lanes)
                }
            }
            m += lanes
        }
        for a in 0..<2 {
            let z = 2 * td + a
            if z >= d { continue }
            for b in 0..<2 {
                let y = 2 * th + b
                if y >= h { continue }
                let srcRow = rowBuffer + (a * 2 + b) * rowLength
                let dst = plane + (z * h + y) * w
                for x in 0..<w { dst[x] = srcRow[x] + bias }
            }
        }
    }

    /// A g Aᵀ on every tile of one row of one output-gradient channel plane [d, h, w]: the
    /// transformed gradient of the 64 products. Writes component ξ of tile tw at out[ξ·xiStride + tw].
    /// `lines` holds 8 line buffers of winogradLineLength(tilesW) floats; `stage` 32 vectors.
    static func gradientRow(plane: UnsafePointer<Float>, d: Int, h: Int, w: Int, td: Int, th: Int, tilesW: Int,
                            out: UnsafeMutablePointer<Float>, xiStride: Int,
                            lines: UnsafeMutablePointer<Float>, stage: UnsafeMutablePointer<WinogradLanes>) {
        let length = winogradLineLength(tilesW: tilesW)
        for a in 0..<2 {
            for b in 0..<2 {
                let z = 2 * td + a, y = 2 * th + b
                let line = a * 2 + b
                deinterleave(z < d && y < h ? plane + (z * h + y) * w : nil, w: w, shift: 0,
                             even: lines + 2 * line * length, odd: lines + (2 * line + 1) * length, length: length)
            }
        }
        let lanes = WinogradLanes.scalarCount
        var m = 0
        while m < tilesW {
            // W then Y axis: stage[a·16 + ξy·4 + ξw].
            for a in 0..<2 {
                let l0 = lines + 2 * (a * 2) * length + m, l1 = lines + 2 * (a * 2 + 1) * length + m
                let w0 = gradientTransform(loadLanes(l0), loadLanes(l0 + length))
                let w1 = gradientTransform(loadLanes(l1), loadLanes(l1 + length))
                storeGradientY(gradientTransform(w0.0, w1.0), stage + a * 16)
                storeGradientY(gradientTransform(w0.1, w1.1), stage + a * 16 + 1)
                storeGradientY(gradientTransform(w0.2, w1.2), stage + a * 16 + 2)
                storeGradientY(gradientTransform(w0.3, w1.3), stage + a * 16 + 3)
            }
            // Z axis; store the 64 components.
            for yw in 0..<16 {
                let r = gradientTransform(stage[yw], stage[16 + yw])
                let base = out + yw * xiStride + m
                // Whole vectors: tiles ≥ tilesW read the zero fill of the line buffers, so the
                // padding columns of a row hold zeros (the weight gradient sums over them).
                storeVector(r.0, base)
                storeVector(r.1, base + 16 * xiStride)
                storeVector(r.2, base + 32 * xiStride)
                storeVector(r.3, base + 48 * xiStride)
            }
            m += lanes
        }
    }
}
