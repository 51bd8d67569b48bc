import Common
import Foundation
import XCTest
@testable import NIfTI
import TestSupport

/// Mutation fuzzing of the reader: every mutated file either loads (and everything a caller
/// does with a loaded image works) or throws a NIfTIError naming the file — never a trap, never
/// another error type. Meant for a checked build (scripts/test.sh runs it in debug as well as
/// release): with -Ounchecked, overflow and bounds traps are compiled out and a bug would read
/// memory silently instead.
///
/// ≥ 10⁴ mutations per run. The seed is random per run and printed first; `DRO_FUZZ_SEED=N`
/// repeats a run. A failed check prints the seed, the mutation and the mutated bytes (hex); a
/// crash prints the same from a signal handler (`FuzzCrashReport`).
final class MutationFuzzTests: NIfTITestCase {
    /// Mutations per base file; 5 base files → 10 240 mutated files.
    static let mutationsPerBase = 2048

    func testMutatedFilesLoadOrThrowNIfTIError() throws {
        let seed = FuzzSeed.make("NIfTI mutation fuzz")
        FuzzCrashReport.install()
        FuzzCrashReport.startWatchdog(limit: 30)
        var mutator = FuzzMutator(seed: seed)
        var clock = FuzzClock()
        var tally = FuzzTally()
        let started = Date()
        let bases = try FuzzBase.all(directory: directory)
        for base in bases {
            let kinds = base.gzip ? FuzzMutation.gzipKinds : FuzzMutation.plainKinds
            for i in 0..<MutationFuzzTests.mutationsPerBase {
                let kind = kinds[i % kinds.count]
                let mutated = try kind.apply(to: base, mutator: &mutator, directory: directory)
                let label = "seed \(seed) mutation \(i) of \(base.name) (\(kind))"
                clock.start()
                try check(mutated, name: base.name, kind: kind, label: label, tally: &tally)
                clock.stop(label)
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let total = bases.count * MutationFuzzTests.mutationsPerBase
        print("NIfTI mutation fuzz: seed \(seed), \(total) mutations in \(String(format: "%.1f", seconds)) s: "
              + "\(tally.loaded) loaded, \(tally.rejected) rejected by field \(tally.fields.sorted { $0.key < $1.key }); "
              + clock.summary)
        XCTAssertEqual(tally.loaded + tally.rejected, total)
        XCTAssertGreaterThanOrEqual(total, 10_000)
        // The mutations must reach the validators: some load, many fail, on many different fields.
        XCTAssertGreaterThan(tally.loaded, total / 20, "seed \(seed)")
        XCTAssertGreaterThan(tally.rejected, total / 4, "seed \(seed)")
        for field in ["sizeof_hdr", "gzip stream", "voxel data", "datatype", "magic", "dim[0]", "vox_offset",
                      "extension 1 esize"] {
            XCTAssertGreaterThan(tally.fields[field] ?? 0, 0, "seed \(seed): no mutation was rejected on \(field): \(tally.fields)")
        }
        // Header mutations inside a gzip file (inflate, mutate, deflate) reach the header checks,
        // which mutations of the compressed stream almost never do.
        XCTAssertGreaterThan(tally.recompressedHeaderRejections, MutationFuzzTests.mutationsPerBase / 8,
                             "seed \(seed): recompressed header mutations did not reach the header checks")
    }

    /// Reads one mutated file and, when it loads, does what callers do with an image.
    func check(_ mutated: [UInt8], name: String, kind: FuzzMutation, label: String, tally: inout FuzzTally) throws {
        let p = path("m-" + name)
        try writeBytes(mutated, to: p)
        FuzzCrashReport.set(label: label, bytes: mutated)
        do {
            let image = try NIfTIImage.read(path: p)
            _ = image.affine
            _ = image.spacing
            _ = image.statistics()
            _ = image.floatValues()
            _ = Inspect.jsonReport(image, path: p)
            _ = Inspect.textReport(image, path: p)
            // Encoding every loaded header; a durable write (two fsyncs) for one in 64.
            let out = path("out.nii.gz")
            do {
                try image.header.checkWritable(to: out)
                _ = image.header.encodedForWriting()
                if tally.loaded % 64 == 0 { try image.write(to: out) }
            } catch is NIfTIError {}
            tally.loaded += 1
        } catch let e as NIfTIError {
            if !e.description.hasPrefix(p) {
                XCTFail("error does not name the file: \(e)\n" + FuzzCrashReport.describe(label: label, bytes: mutated))
            }
            tally.fields[e.field, default: 0] += 1
            tally.rejected += 1
            if kind.isRecompressedHeader && e.field != "gzip stream" { tally.recompressedHeaderRejections += 1 }
        } catch {
            XCTFail("not a NIfTIError: \(error)\n" + FuzzCrashReport.describe(label: label, bytes: mutated))
            tally.rejected += 1
        }
    }
}

struct FuzzTally {
    var loaded = 0
    var rejected = 0
    var fields: [String: Int] = [:]
    var recompressedHeaderRejections = 0
}
