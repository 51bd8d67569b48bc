import Common
import XCTest
@testable import NIfTI

/// Mutated headers and gzip streams (fixed seed): every file either loads or throws a
/// NIfTIError — never a trap, never another error type. A trap would crash the test process,
/// so reaching the final assertions is itself the check.
final class MutationFuzzTests: NIfTITestCase {
    /// Mutations per base file; 4 base files → 1,600 mutated files.
    static let mutationsPerBase = 400
    static let seed: UInt64 = 20_261_129

    enum Mutation: CaseIterable { case flipHeaderBytes, flipAnyBytes, setHeaderWord, truncate }

    func baseFiles() throws -> [(name: String, bytes: [UInt8])] {
        var rng = SplitMix64(seed: 1)
        let values = (0..<(6 * 5 * 4)).map { _ in Float(Int(rng.next() % 200)) - 100 }
        var n1 = HandBuiltFile()
        n1.dim = [3, 6, 5, 4, 1, 1, 1, 1]
        n1.sformCode = 1
        n1.qformCode = 1
        n1.quatern = [0, 0.6, 0]
        n1.slope = 2
        n1.inter = 1
        let plain = n1.headerBytes() + n1.encode(values)
        var n2 = n1
        n2.nifti2 = true
        n2.bigEndian = true
        n2.datatype = 4
        n2.bitpix = 16
        let big2 = n2.headerBytes() + n2.encode(values.map { Int16($0) })
        return [("p.nii", plain), ("g.nii.gz", try gzipMember(plain, in: directory)),
                ("b.nii", big2), ("bg.nii.gz", try gzipMember(big2, in: directory))]
    }

    func mutate(_ bytes: [UInt8], _ kind: Mutation, headerLimit: Int, rng: inout SplitMix64) -> [UInt8] {
        var b = bytes
        let count = b.count
        func random(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        switch kind {
        case .flipHeaderBytes:
            for _ in 0...random(4) { b[random(min(headerLimit, count))] ^= UInt8(1 + random(255)) }
        case .flipAnyBytes:
            for _ in 0...random(4) { b[random(count)] = UInt8(random(256)) }
        case .setHeaderWord:
            // An extreme 16- or 32-bit value (0, −1, max, min, random) at an aligned offset:
            // hits dims, datatype, vox_offset, codes with values that overflow naive arithmetic.
            let words: [UInt32] = [0, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0x7FFF, 0x8000, UInt32(truncatingIfNeeded: rng.next())]
            let w = words[random(words.count)]
            let at = random(min(headerLimit, count) / 2) * 2
            for k in 0..<min(random(2) == 0 ? 2 : 4, count - at) { b[at + k] = UInt8(truncatingIfNeeded: w >> (8 * k)) }
        case .truncate:
            b = Array(b.prefix(random(count)))
        }
        return b
    }

    func testMutatedFilesLoadOrThrowNIfTIError() throws {
        var rng = SplitMix64(seed: MutationFuzzTests.seed)
        var loaded = 0, rejected = 0
        var fields: [String: Int] = [:]
        for base in try baseFiles() {
            // Header mutations only make sense on plain files; on gzip files they hit the gzip
            // header and the start of the deflate stream.
            let headerLimit = base.name.hasSuffix(".gz") ? 64 : 352
            for i in 0..<MutationFuzzTests.mutationsPerBase {
                let kind = Mutation.allCases[i % Mutation.allCases.count]
                let mutated = mutate(base.bytes, kind, headerLimit: headerLimit, rng: &rng)
                let p = path("m-" + base.name)
                try writeBytes(mutated, to: p)
                do {
                    let image = try NIfTIImage.read(path: p)
                    // Exercise everything a caller touches on a loaded image.
                    _ = image.affine
                    _ = image.spacing
                    _ = image.statistics()
                    _ = image.floatValues()
                    _ = Inspect.jsonReport(image, path: p)
                    _ = Inspect.textReport(image, path: p)
                    do { try image.write(to: path("out.nii.gz")) } catch is NIfTIError {}
                    loaded += 1
                } catch let e as NIfTIError {
                    XCTAssertTrue(e.description.hasPrefix(p), "\(e)")
                    fields[e.field, default: 0] += 1
                    rejected += 1
                }
            }
        }
        XCTAssertEqual(loaded + rejected, 4 * MutationFuzzTests.mutationsPerBase)
        // The mutations must actually reach the validators (not all load, not all fail the same way).
        XCTAssertGreaterThan(loaded, 50)
        XCTAssertGreaterThan(rejected, 400)
        for field in ["sizeof_hdr", "gzip stream", "voxel data", "datatype", "magic"] {
            XCTAssertGreaterThan(fields[field] ?? 0, 0, "no mutation was rejected on \(field): \(fields)")
        }
        print("mutation fuzz: \(loaded) loaded, \(rejected) rejected by field \(fields.sorted { $0.key < $1.key })")
    }
}
