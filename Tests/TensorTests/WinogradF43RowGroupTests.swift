import CKernels
import Common
import XCTest
@testable import Tensor

/// The AVX-512 F(4,3) row-group transforms (`WinogradF43Transforms+RowGroups.swift`) against the
/// portable Swift one-row transforms, bit for bit (the arithmetic per lane is the same; only the
/// rows sharing a vector differ).
final class WinogradF43RowGroupTests: XCTestCase {
    /// The AVX-512 row-group transforms (several tile rows per vector) against the portable Swift
    /// one-row transforms, bit for bit, on chunk buffers and volumes: rows of 4 tiles (W = 13 … 16)
    /// in groups of 2 (8 lanes) and 4 (16 lanes), rows of 8 tiles (W = 29, 32) in groups of 2;
    /// chunks of odd row counts (last group partial), starting mid-group, groups crossing tile-depth
    /// and sample boundaries (tilesH 1 … 3, batch 2 and 3), partial tile depths and heights, channel
    /// 1 of 2. Buffers start NaN-filled: the Swift code writes columns up to vectorTiles past each
    /// row's first, the groups up to `lanes` past each group's: columns [0, rows·tilesW) must
    /// match, and nothing at or past rows·tilesW + 16 (the chunk's slack) may be written; output
    /// volumes must match everywhere (the other channel and the rows outside the chunk untouched).
    func testRowGroupTransformsAreBitIdenticalToSwift() throws {
        guard CPUFeatures.avx512 else { throw XCTSkip("no AVX-512 (or DRO_PORTABLE_KERNELS=1)") }
        var rng = SplitMix64(seed: 43)
        let shapes = [(2, 5, 7, 16), (3, 4, 4, 13), (2, 9, 9, 14), (2, 3, 1, 15), (1, 8, 12, 16), (2, 6, 5, 32),
                      (2, 7, 3, 29)]
        let channels = 2, channel = 1
        for (n, d, h, w) in shapes {
            let plan = WinogradF43Plan(batch: n, d: d, h: h, w: w, channels: 2,
                                       tuning: WinogradTuning(chunkBytes: 0, minimumChunkTiles: 1, threads: 1))
            let tw = plan.tilesW, total = plan.rows, planeSize = d * h * w
            let volume = rng.values(n * channels * planeSize)
            let scratchCount = max(plan.scratchFloats, WinogradF43Transforms.scratchFloats(rowStride: 16))
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            defer { scratch.deallocate() }
            var ranges = [0..<total, 1..<total, (total / 2)..<total]
            if total > 3 { ranges.append(1..<(total - 1)) }
            for lanes in (tw == 4 ? [8, 16] : [16]) {
                let size = lanes / tw
                for rows in ranges where !rows.isEmpty {
                    let columns = rows.count * tw, xiStride = columns + 24
                    let count = WinogradF43.components * xiStride
                    let products = UnsafeMutablePointer<Float>.allocate(capacity: count)
                    defer { products.deallocate() }
                    products.initialize(from: rng.values(count), count: count)
                    var inputSwift = [Float](repeating: .nan, count: count), gradientSwift = inputSwift
                    var input = inputSwift, gradient = inputSwift
                    var planeSwift = [Float](repeating: .nan, count: volume.count), planeGroups = planeSwift
                    let nanBits = Float.nan.bitPattern
                    for row in rows {
                        let (sample, td, th) = plan.decode(row: row)
                        let column = (row - rows.lowerBound) * tw
                        volume.withUnsafeBufferPointer { v in
                            let plane = v.baseAddress! + (sample * channels + channel) * planeSize
                            scratch.update(repeating: .nan, count: scratchCount)
                            inputSwift.withUnsafeMutableBufferPointer {
                                WinogradF43Transforms.portableInputRow(plane: plane, plan: plan, td: td, th: th,
                                                                       out: $0.baseAddress! + column,
                                                                       xiStride: xiStride, scratch: scratch)
                            }
                            scratch.update(repeating: .nan, count: scratchCount)
                            gradientSwift.withUnsafeMutableBufferPointer {
                                WinogradF43Transforms.portableGradientRow(plane: plane, plan: plan, td: td, th: th,
                                                                          out: $0.baseAddress! + column,
                                                                          xiStride: xiStride, scratch: scratch)
                            }
                        }
                        scratch.update(repeating: .nan, count: scratchCount)
                        planeSwift.withUnsafeMutableBufferPointer {
                            WinogradF43Transforms.portableOutputRow(
                                src: products + column, xiStride: xiStride,
                                plane: $0.baseAddress! + (sample * channels + channel) * planeSize, plan: plan,
                                td: td, th: th, bias: -0.75, scratch: scratch)
                        }
                    }
                    var first = rows.lowerBound
                    while first < rows.upperBound {
                        let k = min(size, rows.upperBound - first), after = first + k
                        // The next group to prefetch: the following one, else the chunk's first of
                        // channel 0 (as after a channel's last group).
                        let next = after < rows.upperBound
                            ? WinogradF43Transforms.NextGroup(channel: channel, first: after,
                                                              count: min(size, rows.upperBound - after))
                            : WinogradF43Transforms.NextGroup(channel: 0, first: rows.lowerBound,
                                                              count: min(size, rows.count))
                        let column = (first - rows.lowerBound) * tw
                        scratch.update(repeating: .nan, count: scratchCount)
                        input.withUnsafeMutableBufferPointer {
                            WinogradF43Transforms.inputRows(volume: volume, channels: channels, channel: channel,
                                                            plan: plan, first: first, count: k,
                                                            out: $0.baseAddress! + column, xiStride: xiStride,
                                                            scratch: scratch, next: next, lanes: lanes)
                        }
                        scratch.update(repeating: .nan, count: scratchCount)
                        gradient.withUnsafeMutableBufferPointer {
                            WinogradF43Transforms.gradientRows(volume: volume, channels: channels, channel: channel,
                                                               plan: plan, first: first, count: k,
                                                               out: $0.baseAddress! + column, xiStride: xiStride,
                                                               scratch: scratch, next: next, lanes: lanes)
                        }
                        scratch.update(repeating: .nan, count: scratchCount)
                        planeGroups.withUnsafeMutableBufferPointer {
                            WinogradF43Transforms.outputRows(
                                src: products + column, xiStride: xiStride,
                                volume: $0.baseAddress!, channels: channels, channel: channel, plan: plan,
                                first: first, count: k, bias: -0.75, scratch: scratch, next: next, lanes: lanes)
                        }
                        first = after
                    }
                    let where_ = "\(n)×\(d)×\(h)×\(w) lanes \(lanes) rows \(rows)"
                    var inputMismatches = 0, gradientMismatches = 0, spills = 0
                    for xi in 0..<WinogradF43.components {
                        for t in 0..<columns {
                            let i = xi * xiStride + t
                            if input[i].bitPattern != inputSwift[i].bitPattern { inputMismatches += 1 }
                            if gradient[i].bitPattern != gradientSwift[i].bitPattern { gradientMismatches += 1 }
                        }
                        for t in (columns + 16)..<xiStride {
                            let i = xi * xiStride + t
                            if input[i].bitPattern != nanBits || gradient[i].bitPattern != nanBits { spills += 1 }
                        }
                    }
                    XCTAssertEqual(inputMismatches, 0, "input \(where_)")
                    XCTAssertEqual(gradientMismatches, 0, "gradient \(where_)")
                    XCTAssertEqual(spills, 0, "columns written past the slack \(where_)")
                    XCTAssertFalse(input.prefix(columns).contains { $0.isNaN }, "input column unwritten \(where_)")
                    XCTAssertEqual(planeSwift.map(\.bitPattern), planeGroups.map(\.bitPattern), "output \(where_)")
                    XCTAssertTrue(planeSwift.contains { !$0.isNaN }, "output \(where_): nothing written")
                }
            }
        }
    }
}
