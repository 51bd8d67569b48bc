// Winograd F(2×2×2, 3×3×3): Bᵀ d B on the input tiles of consecutive rows of one channel.
//
// Each input line (channel, z, y) is transformed along W once into a "W line" (4 components per
// tile). A tile row (n, td, th) needs the 4×4 W lines z = 2td−1 … 2td+2, y = 2th−1 … 2th+2; the
// next row (th + 1) shares y = 2th+1, 2th+2, so only 8 new W lines are built per row. The lines
// live in a ring over y: line (i, y) sits in slot k = 4i + ((y + 1) mod 4), so row th finds its
// line (i, j) in slot 4i + ((j + 2·(th mod 2)) mod 4) — one of two fixed patterns.
//
// Storage is interleaved per lane vector: block[v][ξw][k][lane] (256 floats per vector of 4
// tiles), so the 16 lines one output vector combines are 16 adjacent loads from one pointer.

enum WinogradInputTransform {
    /// Floats of one vector block: 4 components × 16 slots × lanes.
    private static let blockFloats = 4 * 16 * WinogradLanes.scalarCount
    /// Zero-padded copy of the voxels one border vector reads (2·lanes + 2, rounded up).
    private static let borderFloats = 16

    /// Floats of line scratch for a row of `tilesW` tiles.
    static func scratchFloats(tilesW: Int) -> Int {
        vectors(tilesW) * blockFloats + borderFloats
    }

    @inline(__always)
    private static func vectors(_ tilesW: Int) -> Int {
        (tilesW + WinogradLanes.scalarCount - 1) / WinogradLanes.scalarCount
    }

    /// Transforms `rows` (global row indices, consecutive) of channel `channel` of
    /// input [batch, channels, d, h, w]. Component ξ of local tile t goes to
    /// out[ξ·xiStride + t], where local tile 0 is the first tile of `rows.lowerBound`.
    static func rows(_ rows: Range<Int>, input: UnsafePointer<Float>, channel: Int, channels: Int,
                     plan: WinogradPlan, out: UnsafeMutablePointer<Float>, xiStride: Int,
                     lines: UnsafeMutablePointer<Float>) {
        let lanes = WinogradLanes.scalarCount
        let border = lines + vectors(plan.tilesW) * blockFloats
        var previous = (n: -1, td: -1, th: -1)
        for row in rows {
            let (n, td, th) = plan.decode(row: row)
            let plane = input + (n * channels + channel) * plan.planeSize
            let reuse = previous.n == n && previous.td == td && previous.th + 1 == th
            for i in 0..<4 {
                for j in (reuse ? 2 : 0)..<4 {
                    let z = 2 * td - 1 + i, y = 2 * th - 1 + j
                    let slot = lines + (4 * i + (y + 1) & 3) * lanes
                    if z >= 0 && z < plan.d && y >= 0 && y < plan.h {
                        wLine(plane + (z * plan.h + y) * plan.w, w: plan.w, tilesW: plan.tilesW, into: slot,
                              border: border)
                    } else {
                        for v in 0..<vectors(plan.tilesW) {
                            for xiw in 0..<4 { storeLanes(.zero, slot + v * blockFloats + xiw * 16 * lanes, lanes) }
                        }
                    }
                }
            }
            previous = (n, td, th)
            let rowOut = out + (row - rows.lowerBound) * plan.tilesW
            var m = 0, v = 0
            while m < plan.tilesW {
                let block = UnsafePointer(lines + v * blockFloats)
                let count = plan.tilesW - m
                for xiw in 0..<4 {
                    let src = block + xiw * 16 * lanes, dst = rowOut + m + xiw * xiStride
                    if th & 1 == 0 {
                        vector(src, shift: 0, out: dst, step: 4 * xiStride, count: count)
                    } else {
                        vector(src, shift: 2, out: dst, step: 4 * xiStride, count: count)
                    }
                }
                m += lanes; v += 1
            }
        }
    }

    /// Bᵀ along W of one voxel line x[0..<w]: component ξw of tile m is
    /// (d0 − d2, d1 + d2, d2 − d1, d1 − d3)[ξw] with d_k = x[2m − 1 + k] (zero outside 0..<w),
    /// stored at into[v·blockFloats + ξw·16·lanes] for the vector v holding tile m. Each vector
    /// splits two overlapping 8-voxel loads into even and odd voxels; vectors touching either
    /// border load from a zero-padded copy.
    @inline(__always)
    private static func wLine(_ x: UnsafePointer<Float>, w: Int, tilesW: Int, into: UnsafeMutablePointer<Float>,
                              border: UnsafeMutablePointer<Float>) {
        let lanes = WinogradLanes.scalarCount
        var m = 0
        var dst = into
        while m < tilesW {
            // Vector m reads voxels 2m − 1 … 2m + 2·lanes: from x inside, else from a padded copy.
            var p = UnsafePointer(x + 2 * m - 1)
            if m == 0 || 2 * m + 2 * lanes >= w {
                for j in 0..<(2 * lanes + 2) {
                    let i = 2 * m - 1 + j
                    border[j] = i >= 0 && i < w ? x[i] : 0
                }
                p = UnsafePointer(border)
            }
            let a = loadEight(p)
            let b = loadEight(p + 2)
            let r = inputTransform(SIMD4(a[0], a[2], a[4], a[6]), SIMD4(a[1], a[3], a[5], a[7]),
                                   SIMD4(b[0], b[2], b[4], b[6]), SIMD4(b[1], b[3], b[5], b[7]))
            storeLanes(r.0, dst, lanes)
            storeLanes(r.1, dst + 16 * lanes, lanes)
            storeLanes(r.2, dst + 32 * lanes, lanes)
            storeLanes(r.3, dst + 48 * lanes, lanes)
            m += lanes
            dst += blockFloats
        }
    }

    /// Y then Z for one ξw of one lane vector. `src` points at the 16 slots of component ξw;
    /// row line (i, j) is slot 4i + ((j + shift) mod 4). Stores the 16 components ξz·16 + ξy·4 + ξw
    /// in increasing ξ, `step` = 4·xiStride apart, starting at `out`.
    @inline(__always)
    private static func vector(_ src: UnsafePointer<Float>, shift: Int, out: UnsafeMutablePointer<Float>,
                               step: Int, count: Int) {
        let lanes = WinogradLanes.scalarCount
        @inline(__always) func line(_ i: Int, _ j: Int) -> WinogradLanes {
            loadLanes(src + (4 * i + (j + shift) & 3) * lanes)
        }
        @inline(__always) func y(_ i: Int) -> (WinogradLanes, WinogradLanes, WinogradLanes, WinogradLanes) {
            inputTransform(line(i, 0), line(i, 1), line(i, 2), line(i, 3))
        }
        let z0 = y(0), z1 = y(1), z2 = y(2), z3 = y(3)
        let c0 = inputTransform(z0.0, z1.0, z2.0, z3.0), c1 = inputTransform(z0.1, z1.1, z2.1, z3.1)
        let c2 = inputTransform(z0.2, z1.2, z2.2, z3.2), c3 = inputTransform(z0.3, z1.3, z2.3, z3.3)
        var p = out
        @inline(__always) func put(_ v: WinogradLanes) { storeLanes(v, p, count); p += step }
        put(c0.0); put(c1.0); put(c2.0); put(c3.0)
        put(c0.1); put(c1.1); put(c2.1); put(c3.1)
        put(c0.2); put(c1.2); put(c2.2); put(c3.2)
        put(c0.3); put(c1.3); put(c2.3); put(c3.3)
    }
}
