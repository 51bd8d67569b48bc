// Winograd F(2×2×2, 3×3×3): Bᵀ d B on the input tiles of consecutive rows of one channel.
//
// Each input line (channel, z, y) is transformed along W once into a "W line" (4 components per
// tile). A tile row (n, td, th) needs the 4×4 W lines z = 2td−1 … 2td+2, y = 2th−1 … 2th+2; the
// next row (th + 1) shares y = 2th+1, 2th+2, so only 8 new W lines are built per row. The lines
// live in a ring over y: line (i, y) sits in slot k = 4i + ((y + 1) mod 4), so row th finds its
// line (i, j) in slot 4i + ((j + 2·(th mod 2)) mod 4) — one of two fixed patterns.
//
// Storage is interleaved per lane vector: block[v][ξw][k][lane] (256 floats per vector of 4
// tiles), so the 16 lines one output vector combines are 16 loads at fixed offsets from one
// pointer. A voxel line is first copied into a zero-padded buffer (pad[1 + x] = x-th voxel), so
// every W-line vector is two branch-free loads, borders included.
//
// Speed: this layout of the loops about halved the time per tile and channel against the
// earlier one (per-voxel border branches, partial-vector stores, 64 live store pointers spilled
// to the stack); outputs bit-identical. Most of what is left is arithmetic and shuffles, not
// memory (figures: docs/performance.md, "Winograd F(2,3) kernels at 64³").

enum WinogradInputTransform {
    private static let lanes = WinogradLanes.scalarCount
    /// Floats of one vector block: 4 components × 16 slots × lanes.
    private static let blockFloats = 4 * 16 * WinogradLanes.scalarCount

    /// Floats of line scratch for a row of `tilesW` tiles: the W-line blocks, then the padded
    /// voxel line (2·lanes voxels per vector, one leading zero, one trailing vector of slack).
    /// (At least what the C input transforms need, which use the same scratch.)
    static func scratchFloats(tilesW: Int) -> Int {
        max(vectors(tilesW) * blockFloats + paddedLineFloats(tilesW), WinogradTransformsC.scratchFloats(tilesW: tilesW))
    }

    @inline(__always)
    private static func paddedLineFloats(_ tilesW: Int) -> Int { 2 * lanes * vectors(tilesW) + 2 * lanes + 2 }

    @inline(__always)
    private static func vectors(_ tilesW: Int) -> Int { (tilesW + lanes - 1) / lanes }

    /// Transforms `rows` (global row indices, consecutive) of channel `channel` of
    /// input [batch, channels, d, h, w]. Component ξ of local tile t goes to
    /// out[ξ·xiStride + t], local tile 0 being the first tile of `rows.lowerBound` and each row
    /// `plan.rowStride` columns wide (its last vector's extra columns are written too).
    /// Runs a C kernel (AVX-512 or AVX2) when `WinogradTransformsC.enabled`, else `portableRows`.
    @inline(__always)
    static func rows(_ rows: Range<Int>, input: UnsafePointer<Float>, channel: Int, channels: Int,
                     plan: WinogradPlan, out: UnsafeMutablePointer<Float>, xiStride: Int,
                     lines: UnsafeMutablePointer<Float>) {
        if WinogradTransformsC.enabled {
            WinogradTransformsC.inputRows(rows, input: input, channel: channel, channels: channels, plan: plan,
                                          out: out, xiStride: xiStride, lines: lines)
        } else {
            portableRows(rows, input: input, channel: channel, channels: channels, plan: plan, out: out,
                         xiStride: xiStride, lines: lines)
        }
    }

    /// The Swift (SSE, 4-lane) kernel: the fallback, and the reference the C ones are tested against.
    static func portableRows(_ rows: Range<Int>, input: UnsafePointer<Float>, channel: Int, channels: Int,
                             plan: WinogradPlan, out: UnsafeMutablePointer<Float>, xiStride: Int,
                             lines: UnsafeMutablePointer<Float>) {
        let count = vectors(plan.tilesW), w = plan.w
        let pad = lines + count * blockFloats
        // pad[0] is voxel −1 and pad[w + 1 …] lie right of the line: zero once, never overwritten.
        pad[0] = 0
        (pad + w + 1).update(repeating: 0, count: paddedLineFloats(plan.tilesW) - w - 1)
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
                        (pad + 1).update(from: plane + (z * plan.h + y) * w, count: w)
                        wLine(UnsafePointer(pad), vectors: count, into: slot)
                    } else {
                        var p = slot
                        for _ in 0..<(4 * count) { storeVector(.zero, p); p += 16 * lanes }
                    }
                }
            }
            previous = (n, td, th)
            let rowOut = out + (row - rows.lowerBound) * plan.rowStride
            // The two ring patterns as separate loops, so slot offsets are constants.
            if th & 1 == 0 {
                yz(UnsafePointer(lines), vectors: count, shift: 0, out: rowOut, xiStride: xiStride)
            } else {
                yz(UnsafePointer(lines), vectors: count, shift: 2, out: rowOut, xiStride: xiStride)
            }
        }
    }

    /// Bᵀ along W of one padded voxel line (pad[j] = x[j − 1], zero outside): component ξw of
    /// tile m is (d0 − d2, d1 + d2, d2 − d1, d1 − d3)[ξw] with d_k = pad[2m + k], stored at
    /// into[v·blockFloats + ξw·16·lanes] for the vector v holding tile m. Each vector splits two
    /// overlapping 8-voxel loads into even and odd voxels.
    @inline(__always)
    private static func wLine(_ pad: UnsafePointer<Float>, vectors: Int, into: UnsafeMutablePointer<Float>) {
        var p = pad, dst = into
        for _ in 0..<vectors {
            // Written for 4-lane vectors: d0, d1 = even/odd of pad[8v ..< 8v + 8], d2, d3 of pad[8v + 2 …].
            let a0 = loadLanes(p), a1 = loadLanes(p + 4), b0 = loadLanes(p + 2), b1 = loadLanes(p + 6)
            let r = inputTransform(WinogradLanes(a0[0], a0[2], a1[0], a1[2]), WinogradLanes(a0[1], a0[3], a1[1], a1[3]),
                                   WinogradLanes(b0[0], b0[2], b1[0], b1[2]), WinogradLanes(b0[1], b0[3], b1[1], b1[3]))
            storeVector(r.0, dst)
            storeVector(r.1, dst + 16 * lanes)
            storeVector(r.2, dst + 32 * lanes)
            storeVector(r.3, dst + 48 * lanes)
            p += 2 * lanes
            dst += blockFloats
        }
    }

    /// Y then Z for every vector of a row. For component ξw of vector v, row line (i, j) is
    /// slot 4i + ((j + shift) mod 4) of block v; component ξz·16 + ξy·4 + ξw is stored at
    /// out[(ξz·16 + ξy·4 + ξw)·xiStride + v·lanes]. Four base pointers per ξw keep the 16 store
    /// addresses in registers.
    @inline(__always)
    private static func yz(_ lines: UnsafePointer<Float>, vectors: Int, shift: Int,
                           out: UnsafeMutablePointer<Float>, xiStride s: Int) {
        var block = lines, o = out
        let s4 = 4 * s
        for _ in 0..<vectors {
            for xiw in 0..<4 {
                let src = block + xiw * 16 * lanes
                @inline(__always) func line(_ i: Int, _ j: Int) -> WinogradLanes {
                    loadLanes(src + (4 * i + (j + shift) & 3) * lanes)
                }
                @inline(__always) func y(_ i: Int) -> (WinogradLanes, WinogradLanes, WinogradLanes, WinogradLanes) {
                    inputTransform(line(i, 0), line(i, 1), line(i, 2), line(i, 3))
                }
                let z0 = y(0), z1 = y(1), z2 = y(2), z3 = y(3)
                // c{ξy}.{ξz}: component ξz·16 + ξy·4 + ξw.
                let c0 = inputTransform(z0.0, z1.0, z2.0, z3.0), c1 = inputTransform(z0.1, z1.1, z2.1, z3.1)
                let c2 = inputTransform(z0.2, z1.2, z2.2, z3.2), c3 = inputTransform(z0.3, z1.3, z2.3, z3.3)
                let q0 = o + xiw * s, q1 = q0 + 4 * s4, q2 = q0 + 8 * s4, q3 = q0 + 12 * s4
                storeVector(c0.0, q0); storeVector(c1.0, q0 + s4); storeVector(c2.0, q0 + 2 * s4); storeVector(c3.0, q0 + 3 * s4)
                storeVector(c0.1, q1); storeVector(c1.1, q1 + s4); storeVector(c2.1, q1 + 2 * s4); storeVector(c3.1, q1 + 3 * s4)
                storeVector(c0.2, q2); storeVector(c1.2, q2 + s4); storeVector(c2.2, q2 + 2 * s4); storeVector(c3.2, q2 + 3 * s4)
                storeVector(c0.3, q3); storeVector(c1.3, q3 + s4); storeVector(c2.3, q3 + 2 * s4); storeVector(c3.3, q3 + 3 * s4)
            }
            block += blockFloats
            o += lanes
        }
    }
}
