// Opt-in timing of the data pipeline (DRO_DATA_TIMING=1, release build). Prints figures only:
// speed is asserted nowhere in unit tests (docs/performance.md); dro-bench is where it is tracked.
import Common
import Tensor
import Config
import XCTest
import Foundation
@testable import DataPipeline
import TestSupport

final class DataTimingTests: XCTestCase {
    /// CPU time of this thread (the pipeline is single-threaded): less distorted than wall time
    /// on a machine shared by several builds.
    func seconds(_ body: () throws -> Void) rethrows -> Double {
        func now() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }
        let t0 = now()
        try body()
        return now() - t0
    }

    func testTimingReport() throws {
        guard ProcessInfo.processInfo.environment["DRO_DATA_TIMING"] == "1" else {
            throw XCTSkip("set DRO_DATA_TIMING=1 to time the data pipeline")
        }
        let n = 4
        var raw = [CaseVolume]()
        let gen = try seconds { raw = try PhantomGenerator.makeCases(count: n, rareFraction: 0.25, seed: 1) }
        print(String(format: "phantom 64³: %.3f s per case", gen / Double(n)))
        for c in raw {
            var counts = [Int](repeating: 0, count: 6)
            for v in c.label ?? [] { counts[Int(v)] += 1 }
            let brain = Double(counts[1...].reduce(0, +))
            print("  \(c.id) \(c.group ?? "-"): label shares of 1…5 (% of labelled voxels)",
                  counts[1...].map { String(format: "%.1f", 100 * Double($0) / brain) }.joined(separator: " "))
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("dro-timing-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let write = try seconds { try PhantomGenerator.writeDataset(to: root, cases: n, rareFraction: 0.25, seed: 1) }
        print(String(format: "phantom 64³ generate + write .nii.gz: %.3f s per case", write / Double(n)))
        var cases = [CaseVolume]()
        let pre = try seconds { cases = try raw.map { try Preprocessor.preprocess($0, options: PreprocessingOptions()) } }
        print(String(format: "preprocess (crop + z-score) 64³: %.4f s per case; cropped shape %@", pre / Double(n),
                     "\(cases[0].shape)"))
        var o = PreprocessingOptions()
        o.targetSpacing = Spacing(isotropic: 1.0)
        var res: CaseVolume? = nil
        let rs = try seconds { res = try Preprocessor.preprocess(raw[0], options: o) }
        print(String(format: "preprocess + resample 1.2 → 1.0 mm: %.4f s (shape %@)", rs, "\(res!.shape)"))

        var everything = AugmentationOptions()
        for k in [\AugmentationOptions.rotation, \.scaling, \.elastic, \.noise, \.blur, \.brightness, \.contrast,
                  \.lowResolution, \.gamma, \.invertedGamma] {
            everything[keyPath: k].enabled = true
            everything[keyPath: k].probability = 1
        }
        everything.blurProbabilityPerChannel = 1
        everything.lowResolutionProbabilityPerChannel = 1
        for (name, opts) in [("none", AugmentationOptions.none), ("nnU-Net defaults", AugmentationOptions()),
                             ("all transforms, p = 1", everything)] {
            let builder = try BatchBuilder(patchSize: GridShape(cube: 64), augmentation: opts)
            var rng = SplitMix64(seed: 7)
            let steps = 20
            let t = try seconds {
                for s in 0..<steps {
                    _ = try builder.makeBatch(cases: cases, caseIndices: [s % n, (s + 1) % n], using: &rng)
                }
            }
            print(String(format: "batch 2 × 64³, augmentation %@: %.4f s per batch", name, t / Double(steps)))
        }
    }
}
