import Common
import Foundation
import XCTest
@testable import DataPipeline
import NIfTI
import TestSupport

/// Mutation fuzzing of `CaseCacheFile.read`: every mutated cache file either reads into a
/// consistent case or throws an error whose description is one line naming the file — never a
/// trap, never a hang. Mutations: the file's bytes as stored; the metadata JSON as text with the
/// length field fixed up (and, when the mutated metadata still parses, the voxel payload resized
/// to what it declares, so the damage reaches the checks after the size check); the length
/// field; the voxel payload. ≥ 10⁴ per run, seed printed, `DRO_FUZZ_SEED=N` repeats a run.
final class CaseCacheFuzzTests: XCTestCase {
    /// Mutations per base file; 2 bases → 10 240.
    static let mutationsPerBase = 5120
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "dro-cache-fuzz-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    /// The file split at the metadata: magic, JSON, voxels.
    struct Parts {
        var json: [UInt8]
        var voxels: [UInt8]
        var bytes: [UInt8] { Array(CaseCacheFile.magic) + Parts.length(json.count) + json + voxels }
        static func length(_ n: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } }
    }

    static func split(_ file: [UInt8]) -> Parts {
        let length = (0..<4).reduce(0) { $0 | Int(file[8 + $1]) << (8 * $1) }
        return Parts(json: Array(file[12..<12 + length]), voxels: Array(file[(12 + length)...]))
    }

    /// Voxel bytes the metadata declares, when that is a size worth building (≤ 4 MiB).
    static func declaredVoxelBytes(_ json: [UInt8]) -> Int? {
        guard let header = try? JSONDecoder().decode(CaseCacheHeader.self, from: Data(json)) else { return nil }
        let (s1, o1) = header.shape.d.multipliedReportingOverflow(by: header.shape.h)
        let (s2, o2) = s1.multipliedReportingOverflow(by: header.shape.w)
        let (s3, o3) = s2.multipliedReportingOverflow(by: max(header.channels, 0))
        guard !o1, !o2, !o3, s2 >= 0, s3 >= 0, s3 <= 1 << 20 else { return nil }
        return 4 * s3 + (header.hasLabel ? s2 : 0)
    }

    func mutate(_ base: [UInt8], _ i: Int, _ m: inout FuzzMutator) -> (String, [UInt8]) {
        var parts = Self.split(base)
        switch i % 5 {
        case 0:
            var b = base
            m.mutateBytes(&b)
            return ("bytes of the file", b)
        case 1, 2:
            let (operation, json) = m.mutateText(parts.json)
            parts.json = json
            if m.random(3) != 0, let declared = Self.declaredVoxelBytes(json), declared != parts.voxels.count {
                parts.voxels = declared < parts.voxels.count ? Array(parts.voxels.prefix(declared))
                    : parts.voxels + [UInt8](repeating: 1, count: declared - parts.voxels.count)
                return ("metadata: \(operation), length and payload size fixed", parts.bytes)
            }
            return ("metadata: \(operation), length fixed", parts.bytes)
        case 3:
            var b = base
            m.setWord(&b, at: 8, width: 4)
            return ("metadata length", b)
        default:
            m.mutateBytes(&parts.voxels)
            return ("voxels", parts.bytes)
        }
    }

    func testMutatedCacheFilesReadOrThrowNamingTheFile() throws {
        let seed = FuzzSeed.make("case cache mutation fuzz")
        FuzzCrashReport.install()
        FuzzCrashReport.startWatchdog(limit: 30)
        var m = FuzzMutator(seed: seed)
        var clock = FuzzClock()
        var tally: [String: Int] = [:]
        let started = Date()
        let raw = try PhantomGenerator.makeCases(count: 1, rareFraction: 0, seed: 11, shape: GridShape(cube: 10))
        let labelled = try Preprocessor.preprocess(raw[0], options: PreprocessingOptions())
        let unlabelled = try CaseVolume(id: "x", channels: 2, shape: GridShape(d: 2, h: 3, w: 4),
                                        image: (0..<48).map(Float.init), label: nil, spacing: Spacing(isotropic: 1),
                                        group: "g")
        var bases: [(String, [UInt8])] = []
        for volume in [labelled, unlabelled] {
            let path = folder + "/\(volume.id).case"
            try CaseCacheFile.write(volume, to: path)
            bases.append((volume.id, try Array(Data(contentsOf: URL(fileURLWithPath: path)))))
        }
        let path = folder + "/fuzz.case"
        for (name, base) in bases {
            for i in 0..<Self.mutationsPerBase {
                let (what, bytes) = mutate(base, i, &m)
                let label = "seed \(seed) mutation \(i) of \(name) (\(what))"
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                FuzzCrashReport.set(label: label, bytes: bytes)
                clock.start()
                do {
                    let volume = try CaseCacheFile.read(path: path)
                    XCTAssertEqual(volume.image.count, volume.channels * volume.shape.count, label)
                    if let l = volume.label { XCTAssertEqual(l.count, volume.shape.count, label) }
                    // What the pipeline does with a cached case: its foreground box and geometry.
                    _ = volume.foregroundBoundingBox
                    _ = volume.geometry.canonicalShape
                    _ = volume.geometry.canonicalSpacing
                    tally["read", default: 0] += 1
                } catch {
                    let text = "\(error)"
                    if !text.contains(path) || text.contains("\n") {
                        XCTFail("the error is not one line naming the file: \(text)\n"
                                + FuzzCrashReport.describe(label: label, bytes: bytes))
                    }
                    tally[String(text.dropFirst(path.count).prefix(40)), default: 0] += 1
                }
                clock.stop(label)
            }
        }
        let total = bases.count * Self.mutationsPerBase
        print("case cache mutation fuzz: seed \(seed), \(total) mutations in "
              + String(format: "%.1f s: ", Date().timeIntervalSince(started))
              + "\(tally.sorted { $0.value > $1.value }.prefix(12)); \(clock.summary)")
        XCTAssertGreaterThanOrEqual(total, 10_000)
        XCTAssertGreaterThan(tally["read"] ?? 0, total / 20, "seed \(seed): too few mutated files read: \(tally)")
        XCTAssertGreaterThan(tally.count, 4, "seed \(seed): the mutations reach few of the checks: \(tally)")
    }
}

/// What the fuzzer's mutations showed the reader must refuse, one case each.
final class CaseCacheCorruptMetadataTests: XCTestCase {
    /// A cache file of a small case whose metadata JSON went through `edit`, length fixed up.
    func read(_ edit: (String) -> String) throws -> String {
        let folder = NSTemporaryDirectory() + "dro-cache-meta-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let volume = try CaseVolume(id: "x", channels: 1, shape: GridShape(d: 2, h: 3, w: 4),
                                    image: (0..<24).map(Float.init), label: [UInt8](repeating: 1, count: 24),
                                    spacing: Spacing(isotropic: 1))
        let path = folder + "/x.case"
        try CaseCacheFile.write(volume, to: path)
        var parts = CaseCacheFuzzTests.split(try Array(Data(contentsOf: URL(fileURLWithPath: path))))
        let json = String(decoding: parts.json, as: UTF8.self)
        let edited = edit(json)
        XCTAssertNotEqual(edited, json, "the edit must change the metadata")
        parts.json = Array(edited.utf8)
        try Data(parts.bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try CaseCacheFile.read(path: path)
            XCTFail("read a corrupt case cache file")
            return ""
        } catch {
            let text = "\(error)"
            XCTAssert(text.hasPrefix(path) || text.contains(path), text)
            XCTAssertFalse(text.contains("\n"), text)
            return text
        }
    }

    /// Extents whose product overflows Int trapped in `shape.count` before the size check.
    func testOverflowingShapeIsAnError() throws {
        let text = try read { $0.replacingOccurrences(of: "\"d\":2", with: "\"d\":4611686018427387904") }
        XCTAssert(text.contains("larger than the file"), text)
    }

    /// Channels × voxels × 4 overflowing trapped too.
    func testOverflowingChannelsIsAnError() throws {
        let text = try read { $0.replacingOccurrences(of: "\"channels\":1", with: "\"channels\":4611686018427387904") }
        XCTAssert(text.contains("channels"), text)
    }

    /// An orientation that is not an axis permutation trapped (index out of range) in the very
    /// error message refusing it: `AxisOrientation.description` indexed its codes by `source`.
    func testOrientationThatIsNotAPermutationIsAnError() throws {
        let text = try read { $0.replacingOccurrences(of: "\"source\":[0,1,2]", with: "\"source\":[0,1,7]") }
        XCTAssert(text.contains("geometry.orientation source [0, 1, 7]"), text)
        let flips = try read { $0.replacingOccurrences(of: "\"flipped\":[false,false,false]", with: "\"flipped\":[true]") }
        XCTAssert(flips.contains("geometry.orientation source [0, 1, 2] flipped [true]"), flips)
        XCTAssertEqual("\(AxisOrientation(source: [0, 1, 7], flipped: [false]))", "source [0, 1, 7] flipped [false]")
    }

    /// A bad spacing was refused by CaseVolume naming only the case id, not the file.
    func testBadSpacingNamesTheFile() throws {
        let text = try read { $0.replacingOccurrences(of: "\"spacing\":{\"x\":1", with: "\"spacing\":{\"x\":-1") }
        XCTAssert(text.contains("spacing"), text)
    }
}
