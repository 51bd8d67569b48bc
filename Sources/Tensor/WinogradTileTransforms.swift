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

/// Floats of one line-buffer unit for a row of `tilesW` tiles; the worker's line scratch holds
/// 8 of them (≥ the 4 padded voxel lines of 2·lanes·⌈tilesW / lanes⌉ floats `gradientRow` uses).
@inline(__always)
func winogradLineLength(tilesW: Int) -> Int {
    // tiles rounded up to whole vectors, plus one vector of slack.
    (tilesW + WinogradLanes.scalarCount - 1) / WinogradLanes.scalarCount * WinogradLanes.scalarCount
        + WinogradLanes.scalarCount
}

enum WinogradTileTransforms {
    /// Aᵀ m A on every tile of one row of one output channel: reads component ξ of tile tw at
    /// src[ξ·xiStride + tw], writes the valid voxels of the 2×2×2 outputs straight into plane
    /// [d, h, w] (plus `bias`). `edge` holds 2·lanes floats for the last, partial vector of a line;
    /// `sink` (2·lanes·⌈tilesW / lanes⌉ floats) takes the output lines that fall outside the
    /// volume (odd D or H), so the main loop has no branch per line.
    ///
    /// Per lane vector and ξw: Z then Y on the 16 (ξz, ξy) components in registers, then W is
    /// accumulated over the four ξw (output 0 = ξw 0 + 1 + 2, output 1 = ξw 1 − 2 − 3), so no
    /// intermediate goes through memory: faster than the earlier two passes through a stage
    /// buffer and a row buffer, then a copy (docs/performance.md, "Winograd F(2,3) kernels at
    /// 64³"); bit-identical.
    /// Runs a C kernel (AVX-512 or AVX2) when `WinogradTransformsC.enabled`, else `portableOutputRow`.
    @inline(__always)
    static func outputRow(src: UnsafePointer<Float>, xiStride s: Int, plane: UnsafeMutablePointer<Float>,
                          d: Int, h: Int, w: Int, td: Int, th: Int, tilesW: Int, bias: Float,
                          edge: UnsafeMutablePointer<Float>, sink: UnsafeMutablePointer<Float>, rowStride: Int? = nil) {
        if WinogradTransformsC.enabled {
            WinogradTransformsC.outputRow(src: src, xiStride: s, plane: plane, d: d, h: h, w: w, td: td, th: th,
                                          tilesW: tilesW, bias: bias, rowStride: rowStride)
        } else {
            portableOutputRow(src: src, xiStride: s, plane: plane, d: d, h: h, w: w, td: td, th: th,
                              tilesW: tilesW, bias: bias, edge: edge, sink: sink)
        }
    }

    /// The Swift (SSE, 4-lane) output transform: fallback and test reference.
    static func portableOutputRow(src: UnsafePointer<Float>, xiStride s: Int, plane: UnsafeMutablePointer<Float>,
                                  d: Int, h: Int, w: Int, td: Int, th: Int, tilesW: Int, bias: Float,
                                  edge: UnsafeMutablePointer<Float>, sink: UnsafeMutablePointer<Float>) {
        let lanes = WinogradLanes.scalarCount
        let s4 = 4 * s
        let biasLanes = WinogradLanes(repeating: bias)
        let z0 = 2 * td, y0 = 2 * th
        @inline(__always) func line(_ a: Int, _ b: Int) -> UnsafeMutablePointer<Float> {
            z0 + a < d && y0 + b < h ? plane + ((z0 + a) * h + y0 + b) * w : sink
        }
        var l00 = line(0, 0), l01 = line(0, 1), l10 = line(1, 0), l11 = line(1, 1)
        let fullVectors = w / (2 * lanes)   // vectors whose 2·lanes voxels all lie inside the line
        let vectors = (tilesW + lanes - 1) / lanes
        var p = src
        for v in 0..<vectors {
            // c.{2·(2a + b)}, c.{2·(2a + b) + 1}: the two W outputs of output line (a, b).
            var c = (WinogradLanes.zero, WinogradLanes.zero, WinogradLanes.zero, WinogradLanes.zero,
                     WinogradLanes.zero, WinogradLanes.zero, WinogradLanes.zero, WinogradLanes.zero)
            for xiw in 0..<4 {
                let q0 = p + xiw * s, q1 = q0 + 4 * s4, q2 = q0 + 8 * s4, q3 = q0 + 12 * s4
                // Z for one ξy: (m0 + m1 + m2, m1 − m2 − m3) over ξz.
                @inline(__always) func z(_ xiy: Int) -> (WinogradLanes, WinogradLanes) {
                    let a0 = loadLanes(q0 + xiy * s4), a1 = loadLanes(q1 + xiy * s4)
                    let a2 = loadLanes(q2 + xiy * s4), a3 = loadLanes(q3 + xiy * s4)
                    return (a0 + a1 + a2, a1 - a2 - a3)
                }
                let y0 = z(0), y1 = z(1), y2 = z(2), y3 = z(3)
                // Y: t{a}{b}.
                let t00 = y0.0 + y1.0 + y2.0, t01 = y1.0 - y2.0 - y3.0
                let t10 = y0.1 + y1.1 + y2.1, t11 = y1.1 - y2.1 - y3.1
                // W, accumulated in the order of Aᵀ = [1 1 1 0; 0 1 −1 −1].
                if xiw == 0 {
                    c.0 = t00; c.2 = t01; c.4 = t10; c.6 = t11
                } else if xiw == 3 {
                    c.1 -= t00; c.3 -= t01; c.5 -= t10; c.7 -= t11
                } else {
                    c.0 += t00; c.2 += t01; c.4 += t10; c.6 += t11
                    if xiw == 1 {
                        c.1 = t00; c.3 = t01; c.5 = t10; c.7 = t11
                    } else {
                        c.1 -= t00; c.3 -= t01; c.5 -= t10; c.7 -= t11
                    }
                }
            }
            // Voxels 2·lanes·v … of a line: the two W outputs interleaved (written for 4 lanes).
            @inline(__always) func put(_ dst: UnsafeMutablePointer<Float>, _ even: WinogradLanes, _ odd: WinogradLanes) {
                storeVector(WinogradLanes(even[0], odd[0], even[1], odd[1]) + biasLanes, dst)
                storeVector(WinogradLanes(even[2], odd[2], even[3], odd[3]) + biasLanes, dst + lanes)
            }
            if v < fullVectors {
                put(l00, c.0, c.1); put(l01, c.2, c.3); put(l10, c.4, c.5); put(l11, c.6, c.7)
                l00 += 2 * lanes; l01 += 2 * lanes; l10 += 2 * lanes; l11 += 2 * lanes
            } else {
                // The last vector of a line: through `edge`, keeping the voxels inside.
                let count = w - 2 * lanes * v
                put(edge, c.0, c.1); for k in 0..<count { l00[k] = edge[k] }
                put(edge, c.2, c.3); for k in 0..<count { l01[k] = edge[k] }
                put(edge, c.4, c.5); for k in 0..<count { l10[k] = edge[k] }
                put(edge, c.6, c.7); for k in 0..<count { l11[k] = edge[k] }
            }
            p += lanes
        }
    }

    /// A g Aᵀ on every tile of one row of one output-gradient channel plane [d, h, w]: the
    /// transformed gradient of the 64 products. Writes component ξ of tile tw at
    /// out[ξ·xiStride + tw] for whole lane vectors (the padding columns of the row get zeros,
    /// which the weight gradient relies on: it sums over them). `lines` holds 4 padded voxel
    /// lines of 2·lanes·⌈tilesW / lanes⌉ floats.
    ///
    /// Each output line (a, b) = (z 2td + a, y 2th + b) is copied into a zero-padded buffer, so a
    /// vector of tiles is one even/odd split of 2·lanes voxels; then W, Y, Z in registers per ξw.
    /// Runs a C kernel (AVX-512 or AVX2) when `WinogradTransformsC.enabled`, else `portableGradientRow`.
    @inline(__always)
    static func gradientRow(plane: UnsafePointer<Float>, d: Int, h: Int, w: Int, td: Int, th: Int, tilesW: Int,
                            out: UnsafeMutablePointer<Float>, xiStride s: Int, lines: UnsafeMutablePointer<Float>,
                            rowStride: Int? = nil) {
        if WinogradTransformsC.enabled {
            WinogradTransformsC.gradientRow(plane: plane, d: d, h: h, w: w, td: td, th: th, tilesW: tilesW,
                                            out: out, xiStride: s, lines: lines, rowStride: rowStride)
        } else {
            portableGradientRow(plane: plane, d: d, h: h, w: w, td: td, th: th, tilesW: tilesW,
                                out: out, xiStride: s, lines: lines)
        }
    }

    /// The Swift (SSE, 4-lane) gradient transform: fallback and test reference.
    static func portableGradientRow(plane: UnsafePointer<Float>, d: Int, h: Int, w: Int, td: Int, th: Int,
                                    tilesW: Int, out: UnsafeMutablePointer<Float>, xiStride s: Int,
                                    lines: UnsafeMutablePointer<Float>) {
        let lanes = WinogradLanes.scalarCount
        let vectors = (tilesW + lanes - 1) / lanes
        let length = 2 * lanes * vectors
        for line in 0..<4 {
            let z = 2 * td + line / 2, y = 2 * th + line % 2
            let dst = lines + line * length
            if z < d && y < h {
                dst.update(from: plane + (z * h + y) * w, count: w)
                (dst + w).update(repeating: 0, count: length - w)
            } else {
                dst.update(repeating: 0, count: length)
            }
        }
        let s4 = 4 * s
        var o = out
        var p = UnsafePointer(lines)
        for _ in 0..<vectors {
            // Even and odd voxels of line (a, b) for the lanes' tiles (written for 4-lane vectors).
            @inline(__always) func split(_ line: Int) -> (WinogradLanes, WinogradLanes) {
                let a = loadLanes(p + line * length), b = loadLanes(p + line * length + lanes)
                return (WinogradLanes(a[0], a[2], b[0], b[2]), WinogradLanes(a[1], a[3], b[1], b[3]))
            }
            let (e00, o00) = split(0), (e01, o01) = split(1), (e10, o10) = split(2), (e11, o11) = split(3)
            // Component ξw of W (g0, g0 + g1, g0 − g1, −g1) for the four lines, then Y and Z the same way.
            @inline(__always) func emit(_ xiw: Int, _ w00: WinogradLanes, _ w01: WinogradLanes,
                                        _ w10: WinogradLanes, _ w11: WinogradLanes) {
                let q0 = o + xiw * s, q1 = q0 + 4 * s4, q2 = q0 + 8 * s4, q3 = q0 + 12 * s4
                @inline(__always) func z(_ g0: WinogradLanes, _ g1: WinogradLanes, _ xiy: Int) {
                    let r = gradientTransform(g0, g1)
                    storeVector(r.0, q0 + xiy * s4); storeVector(r.1, q1 + xiy * s4)
                    storeVector(r.2, q2 + xiy * s4); storeVector(r.3, q3 + xiy * s4)
                }
                let y0 = gradientTransform(w00, w01), y1 = gradientTransform(w10, w11)
                z(y0.0, y1.0, 0); z(y0.1, y1.1, 1); z(y0.2, y1.2, 2); z(y0.3, y1.3, 3)
            }
            emit(0, e00, e01, e10, e11)
            emit(1, e00 + o00, e01 + o01, e10 + o10, e11 + o11)
            emit(2, e00 - o00, e01 - o01, e10 - o10, e11 - o11)
            emit(3, -o00, -o01, -o10, -o11)
            p += 2 * lanes
            o += lanes
        }
    }
}
