// Winograd F(2×2×2, 3×3×3): Bᵀ d B on the input tiles of consecutive rows of one channel.
//
// Each input line (channel, z, y) is deinterleaved and transformed along W once into a "W line"
// (4 components × tiles); a tile row needs the 4×4 W lines at z = 2td−1 … 2td+2,
// y = 2th−1 … 2th+2, and the next row (th + 1) reuses the last two y of each z, so only 8 new
// W lines are built per row. Y and Z are then lane-vector sums of W lines.

enum WinogradInputTransform {
    /// W-line slots kept per worker: 16 in use plus 8 being rebuilt.
    static let slots = 24

    /// Floats of line scratch for a row of `tilesW` tiles: the W-line slots.
    static func scratchFloats(tilesW: Int) -> Int {
        slots * 4 * winogradLineLength(tilesW: tilesW) + borderFloats
    }

    /// Zero-padded copy of the voxels one border vector reads (2·lanes + 2, rounded up).
    private static let borderFloats = 16

    /// Transforms `rows` (global row indices, consecutive) of channel `channel` of
    /// input [batch, channels, d, h, w]. Component ξ of local tile t goes to
    /// out[ξ·xiStride + t], where local tile 0 is the first tile of `rows.lowerBound`.
    static func rows(_ rows: Range<Int>, input: UnsafePointer<Float>, channel: Int, channels: Int,
                     plan: WinogradPlan, out: UnsafeMutablePointer<Float>, xiStride: Int,
                     lines: UnsafeMutablePointer<Float>) {
        let length = winogradLineLength(tilesW: plan.tilesW)
        var slotOf = (0..<16).map { $0 }            // (i·4 + j) → slot
        var spare = [16, 17, 18, 19, 20, 21, 22, 23]
        var previous: (n: Int, td: Int, th: Int)? = nil
        for row in rows {
            let (n, td, th) = plan.decode(row: row)
            let plane = input + (n * channels + channel) * plan.planeSize
            let reuse = previous.map { $0.n == n && $0.td == td && $0.th + 1 == th } ?? false
            for i in 0..<4 {
                if reuse {
                    // y = 2th−1, 2th were y = 2(th−1)+1, 2(th−1)+2: shift, recycle the two oldest.
                    let old0 = slotOf[i * 4], old1 = slotOf[i * 4 + 1]
                    slotOf[i * 4] = slotOf[i * 4 + 2]; slotOf[i * 4 + 1] = slotOf[i * 4 + 3]
                    slotOf[i * 4 + 2] = spare[2 * i]; slotOf[i * 4 + 3] = spare[2 * i + 1]
                    spare[2 * i] = old0; spare[2 * i + 1] = old1
                }
                for j in (reuse ? 2 : 0)..<4 {
                    let z = 2 * td - 1 + i, y = 2 * th - 1 + j
                    let slot = lines + slotOf[i * 4 + j] * 4 * length
                    if z >= 0 && z < plan.d && y >= 0 && y < plan.h {
                        wLine(plane + (z * plan.h + y) * plan.w, w: plan.w, tilesW: plan.tilesW, length: length,
                              into: slot, border: lines + slots * 4 * length)
                    } else {
                        slot.update(repeating: 0, count: 4 * length)
                    }
                }
            }
            previous = (n, td, th)
            let local = (row - rows.lowerBound) * plan.tilesW
            slotOf.withUnsafeBufferPointer { slot in
                // ξw outer: each of the 16 output streams of one ξw is written front to back.
                for xiw in 0..<4 {
                    var m = 0
                    while m < plan.tilesW {
                        vector(UnsafePointer(lines) + xiw * length + m, length: length, slot: slot,
                               out: out + local + m + xiw * xiStride, xiStride: xiStride, count: plan.tilesW - m)
                        m += WinogradLanes.scalarCount
                    }
                }
            }
        }
    }

    /// Bᵀ along W of one voxel line x[0..<w]: component ξw of tile m is
    /// (d0 − d2, d1 + d2, d2 − d1, d1 − d3)[ξw] with d_k = x[2m − 1 + k] (zero outside 0..<w),
    /// stored at into[ξw·length + m]. Each vector splits two overlapping 8-voxel loads into even
    /// and odd voxels; vectors touching either border load from a zero-padded copy.
    @inline(__always)
    private static func wLine(_ x: UnsafePointer<Float>, w: Int, tilesW: Int, length: Int,
                              into: UnsafeMutablePointer<Float>, border: UnsafeMutablePointer<Float>) {
        let lanes = WinogradLanes.scalarCount
        var m = 0
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
            let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
            let b = UnsafeRawPointer(p + 2).loadUnaligned(as: SIMD8<Float>.self)
            let d0 = a.evenHalf, d1 = a.oddHalf, d2 = b.evenHalf, d3 = b.oddHalf
            let r = inputTransform(d0, d1, d2, d3)
            storeLanes(r.0, into + m, lanes)
            storeLanes(r.1, into + length + m, lanes)
            storeLanes(r.2, into + 2 * length + m, lanes)
            storeLanes(r.3, into + 3 * length + m, lanes)
            m += lanes
        }
    }

    /// Y then Z for one ξw of one lane vector: `base` points at component ξw, tile m of slot 0.
    @inline(__always)
    private static func vector(_ base: UnsafePointer<Float>, length: Int, slot: UnsafeBufferPointer<Int>,
                               out: UnsafeMutablePointer<Float>, xiStride: Int, count: Int) {
        let stride = 4 * length
        @inline(__always) func y(_ i: Int) -> (WinogradLanes, WinogradLanes, WinogradLanes, WinogradLanes) {
            inputTransform(loadLanes(base + slot[i * 4] * stride), loadLanes(base + slot[i * 4 + 1] * stride),
                           loadLanes(base + slot[i * 4 + 2] * stride), loadLanes(base + slot[i * 4 + 3] * stride))
        }
        let z0 = y(0), z1 = y(1), z2 = y(2), z3 = y(3)
        @inline(__always) func emit(_ r: (WinogradLanes, WinogradLanes, WinogradLanes, WinogradLanes),
                                    _ p: UnsafeMutablePointer<Float>) {
            storeLanes(r.0, p, count)
            storeLanes(r.1, p + 16 * xiStride, count)
            storeLanes(r.2, p + 32 * xiStride, count)
            storeLanes(r.3, p + 48 * xiStride, count)
        }
        emit(inputTransform(z0.0, z1.0, z2.0, z3.0), out)
        emit(inputTransform(z0.1, z1.1, z2.1, z3.1), out + 4 * xiStride)
        emit(inputTransform(z0.2, z1.2, z2.2, z3.2), out + 8 * xiStride)
        emit(inputTransform(z0.3, z1.3, z2.3, z3.3), out + 12 * xiStride)
    }
}
