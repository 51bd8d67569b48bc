import Common
import Foundation
import Sampling
import Tensor
import XCTest
@testable import Config
@testable import DataPipeline
@testable import Inference
@testable import Model
@testable import Training
import TestSupport

/// Mutation fuzzing of checkpoint reading, through both readers: `TrainedModel.load` (dro-infer)
/// and the resume path's section decoders (`TrainingProgress.decode`,
/// `UNetTrainingModel.loadState`, `SamplerSection.restore`, the generator's restore, the config
/// text, the kernel record `ComputeRecord.resumeWarning`). Every mutated file either loads into a consistent state or throws an error whose
/// description names the file — never a trap, never a hang.
///
/// Half the mutations damage the file as stored (bit flips, byte sets, words, truncations,
/// insertions, deletions; section-table lengths, CRCs and name lengths with the header CRC fixed
/// up); the other half mutate one section's payload and re-encode the file, so every CRC is right
/// and the damage reaches the section decoders (JSON sections as text, binary ones as bytes).
/// ≥ 10⁴ mutations per run, seed printed; `DRO_FUZZ_SEED=N` repeats a run; a failure prints the
/// seed, the mutation and the file's bytes (hex), a crash the same from the signal handler.
final class CheckpointFuzzTests: XCTestCase {
    /// Mutations per base checkpoint; 2 bases → 10 240 mutated files.
    static let mutationsPerBase = 5120
    var folder = ""

    override func setUpWithError() throws { folder = try InferFixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    /// A resumable checkpoint as the trainer writes it, and the objects a resume restores into.
    struct Base {
        var name: String
        var checkpoint: Checkpoint
        var model: UNetTrainingModel
        var sampler: any Sampler
        var progress: TrainingProgress
    }

    static func base(_ name: String, adamW: Bool, hardness: Bool, options: UNet3DOptions, channels: [String]) throws -> Base {
        var rng = SplitMix64(seed: 5)
        let network = try UNet3D(options: options, threads: 1, rng: &rng)
        let count = network.parameterCount
        let model = UNetTrainingModel(
            network: network, loss: DiceCELoss(),
            optimizer: adamW ? .adamw(AdamWOptimizer(count: count, learningRate: 0.01))
                : .sgd(SGDOptimizer(count: count, learningRate: 0.01, momentum: 0.99, nesterov: true, weightDecay: 3e-5)),
            threads: 1)
        var config = Config(outputDir: NSTemporaryDirectory())
        config.training.patchSize = [4, 4, 4]
        let labels = (0..<options.classes).map { LabelDefinition(name: $0 == 0 ? "background" : "class\($0)", value: $0) }
        let layout = DatasetLayout(kind: .nnunet, root: nil, channels: channels, labels: labels, cases: [])
        let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        let yaml = try String(contentsOfFile: repositoryRoot + "/configs/demo.cfg", encoding: .utf8)
        var checkpoint = Checkpoint()
        for (name, bytes) in try TrainRun.sections(config, yaml: yaml, layout: layout, network: options,
                                                   preprocessing: PreprocessingOptions()) {
            checkpoint.set(name, bytes)
        }
        model.saveState(into: &checkpoint)
        var root = SeededGenerator(seed: 3)
        let samplerGenerator = root.spawn()
        let sampler: any Sampler = hardness
            ? try HardnessWeightedSampler(count: 6, options: HardnessSamplerOptions(beta: 2, importanceSampling: true),
                                          generator: samplerGenerator)
            : try UniformSampler(count: 6, generator: samplerGenerator)
        let drawn = try sampler.nextBatch(size: 2)
        _ = try sampler.feedBack(indices: drawn, losses: [0.5, 1.5])
        checkpoint.set(SamplerSection.name, sampler.stateBytes())
        checkpoint.set("rng", root.checkpointBytes)
        var progress = TrainingProgress(batchSize: 2, iterationsPerEpoch: 3, sampleCount: 6)
        progress.iteration = 4
        progress.bestMetric = 0.5
        checkpoint.set(TrainingProgress.sectionName, progress.encoded())
        return Base(name: name, checkpoint: checkpoint, model: model, sampler: sampler, progress: progress)
    }

    static let jsonSections: Set<String> = [NetworkSection.name, LabelsSection.name, TrainedModel.preprocessingSection,
                                            ComputeRecord.sectionName]

    /// One mutation of `base`; returns its description and the file's bytes.
    func mutate(_ base: Base, _ i: Int, _ m: inout FuzzMutator) -> (String, [UInt8]) {
        let file = base.checkpoint.encoded()
        switch i % 4 {
        case 0:   // the file as stored
            var b = file
            m.mutateBytes(&b)
            return ("bytes of the file", b)
        case 1:   // the section table, header CRC fixed up
            var b = file
            var entries: [(name: String, nameLength: Int, length: Int, crc: Int)] = []
            var offset = Checkpoint.fixedHeaderBytes
            for (name, _) in base.checkpoint.sections {
                let n = name.utf8.count
                entries.append((name, offset, offset + 2 + n, offset + 2 + n + 8))
                offset += 2 + n + 12
            }
            let e = m.pick(entries)
            let field: String
            switch m.random(5) {
            case 0: m.setWord(&b, at: e.nameLength, width: 2); field = "name length"
            case 1, 2: m.setWord(&b, at: e.length, width: 8); field = "length"
            case 3:   // a length off by a little: the next sections shift
                let old = b[e.length..<e.length + 8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
                let new = old &+ UInt64(bitPattern: Int64(m.random(17) - 8))
                for k in 0..<8 { b[e.length + k] = UInt8(truncatingIfNeeded: new >> (8 * k)) }
                field = "length ±8"
            default: m.setWord(&b, at: e.crc, width: 4); field = "CRC"
            }
            if m.random(4) == 0 { m.setWord(&b, at: 12, width: 4) }   // the section count too
            var crc = ByteWriter()
            crc.append(CRC32.checksum(Array(b[0..<offset])))
            b.replaceSubrange(offset..<offset + 4, with: crc.bytes)
            return ("section \(e.name) \(field), header CRC fixed", b)
        default:  // one section's payload, every CRC and length fixed up
            var checkpoint = base.checkpoint
            let (name, payload) = m.pick(checkpoint.sections)
            if m.random(40) == 0 {
                var fewer = Checkpoint()
                for (n, bytes) in checkpoint.sections where n != name { fewer.set(n, bytes) }
                return ("section \(name) removed", fewer.encoded())
            }
            var bytes = payload
            let operation: String
            if CheckpointFuzzTests.jsonSections.contains(name) || name == "config" {
                (operation, bytes) = m.mutateText(payload)
            } else if m.random(2) == 0 {
                // Counts, versions and lengths are 4- or 8-byte words on 4-byte boundaries.
                let at = 4 * m.random(max(1, payload.count / 4))
                m.setWord(&bytes, at: at, width: m.pick([4, 8]))
                operation = "set word at \(at)"
            } else {
                m.mutateBytes(&bytes)
                operation = "bytes"
            }
            checkpoint.set(name, bytes)
            return ("section \(name): \(operation), CRCs fixed", checkpoint.encoded())
        }
    }

    func testMutatedCheckpointsLoadOrThrowNamingTheFile() throws {
        let seed = FuzzSeed.make("checkpoint mutation fuzz")
        FuzzCrashReport.install()
        FuzzCrashReport.startWatchdog(limit: 30)
        var m = FuzzMutator(seed: seed)
        var clock = FuzzClock()
        var tally: [String: Int] = [:]
        let started = Date()
        let bases = [
            try Self.base("sgd-hardness", adamW: false, hardness: true,
                          options: UNet3DOptions(inChannels: 1, classes: 2, features: [2, 4]), channels: ["T2"]),
            try Self.base("adamw-uniform", adamW: true, hardness: false,
                          options: UNet3DOptions(inChannels: 2, classes: 3, features: [2]), channels: ["T2", "ADC"]),
        ]
        let path = folder + "/fuzz.ckpt"
        for base in bases {
            // The unmutated file loads through both readers.
            try base.checkpoint.write(to: path)
            _ = try TrainedModel.load(path: path, threads: 1)
            for i in 0..<Self.mutationsPerBase {
                let (what, bytes) = mutate(base, i, &m)
                let label = "seed \(seed) mutation \(i) of \(base.name) (\(what))"
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                FuzzCrashReport.set(label: label, bytes: bytes)
                clock.start()
                check(base, path: path, label: label, bytes: bytes, tally: &tally)
                clock.stop(label)
            }
        }
        let total = bases.count * Self.mutationsPerBase
        print("checkpoint mutation fuzz: seed \(seed), \(total) mutations in "
              + String(format: "%.1f s: ", Date().timeIntervalSince(started))
              + "\(tally.sorted { $0.key < $1.key }); \(clock.summary)")
        XCTAssertGreaterThanOrEqual(total, 10_000)
        // The mutations must reach the section decoders, not only the CRC checks.
        for outcome in ["load: ok", "resume: ok", "section network", "section model", "section optimizer",
                        "section sampler", "section progress", "section labels", "section preprocessing", "section compute", "crc"] {
            XCTAssertGreaterThan(tally[outcome] ?? 0, 0, "seed \(seed): no mutation ended in \(outcome): \(tally)")
        }
    }

    /// Reads one mutated file as dro-infer and as a resume do; counts the outcomes by section.
    func check(_ base: Base, path: String, label: String, bytes: [UInt8], tally: inout [String: Int]) {
        func refused(_ error: Error, _ reader: String) {
            let text = "\(error)"
            if !text.contains(path) || text.contains("\n") {
                XCTFail("\(reader): the error is not one line naming the file: \(text)\n"
                        + FuzzCrashReport.describe(label: label, bytes: bytes))
            }
            if case let CheckpointError.badSection(_, name, _) = error { tally["section \(name)", default: 0] += 1 }
            if case CheckpointError.crcMismatch = error { tally["crc", default: 0] += 1 }
        }
        do {
            let model = try TrainedModel.load(path: path, threads: 1)
            let options = model.network.options
            XCTAssertEqual(model.channels.count, options.inChannels, label)
            XCTAssertEqual(model.labels.count, options.classes, label)
            XCTAssertEqual(model.patch.count, 3, label)
            XCTAssertNoThrow(try model.preprocessing.validate(), label)
            XCTAssertEqual(model.network.arena.values.count, model.network.parameterCount, label)
            tally["load: ok", default: 0] += 1
        } catch {
            refused(error, "TrainedModel.load")
        }
        // The resume path (Trainer.resume and TrainRun's config comparison), section by section.
        do {
            let checkpoint = try Checkpoint.read(path: path)
            _ = try checkpoint.requireText("config", path: path)
            _ = try ComputeRecord.resumeWarning(checkpoint, path: path)
            let progress = try TrainingProgress.decode(try checkpoint.require(TrainingProgress.sectionName, path: path),
                                                       path: path)
            XCTAssertGreaterThanOrEqual(progress.iteration, 0, label)
            try base.model.loadState(from: checkpoint, path: path)
            try SamplerSection.restore(base.sampler, from: try checkpoint.require(SamplerSection.name, path: path), path: path)
            // A restored sampler must keep working (or refuse with an error): never trap.
            do {
                let drawn = try base.sampler.nextBatch(size: 2)
                XCTAssert(drawn.allSatisfy { (0..<base.sampler.count).contains($0) }, label)
                _ = try base.sampler.feedBack(indices: drawn, losses: [1, 2])
            } catch {
                tally["sampler use: error", default: 0] += 1
            }
            guard var generator = SeededGenerator(checkpointBytes: try checkpoint.require("rng", path: path)) else {
                throw CheckpointError.badSection(path: path, name: "rng", reason: "not a generator state of this build")
            }
            _ = generator.next()
            tally["resume: ok", default: 0] += 1
        } catch {
            refused(error, "resume")
        }
    }
}

/// What the fuzzer showed `TrainedModel.load` must refuse before building the network.
final class CheckpointCorruptNetworkTests: XCTestCase {
    func load(networkEdit edit: (String) -> String) throws -> String {
        let folder = try InferFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/a.ckpt"
        try InferFixtures.checkpoint(at: path, options: UNet3DOptions(inChannels: 1, classes: 2, features: [2, 4]),
                                     channels: ["T2"], patchXYZ: [4, 4, 4])
        var checkpoint = try Checkpoint.read(path: path)
        let json = String(decoding: try checkpoint.require(NetworkSection.name, path: path), as: UTF8.self)
        let edited = edit(json)
        XCTAssertNotEqual(edited, json, "the edit must change the network section")
        checkpoint.set(NetworkSection.name, text: edited)
        try checkpoint.write(to: path)
        do {
            _ = try TrainedModel.load(path: path, threads: 1)
            XCTFail("loaded a corrupt network section")
            return ""
        } catch {
            let text = "\(error)"
            XCTAssert(text.contains(path) && !text.contains("\n"), text)
            return text
        }
    }

    /// A feature count whose weight shape overflows (or would allocate terabytes) trapped or hung
    /// in UNet3D's initialiser.
    func testHugeFeatureCountIsRefusedBeforeTheNetworkIsBuilt() throws {
        let text = try load { $0.replacingOccurrences(of: "4\n", with: "4611686018427387904\n") }
        XCTAssert(text.contains("section \"network\""), text)
    }

    /// 70 levels: 2^(levels−1) wraps to 0 and the patch check divided by it.
    func testTooManyLevelsAreRefused() throws {
        let text = try load { json in
            json.replacingOccurrences(of: "\"features\" : [", with: "\"features\" : [" + String(repeating: "2,", count: 68))
        }
        XCTAssert(text.contains("levels"), text)
    }

    /// A label value beyond Int32 would trap where predictions are written.
    func testLabelValueBeyondInt32IsRefused() throws {
        let folder = try InferFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/a.ckpt"
        try InferFixtures.checkpoint(at: path, options: UNet3DOptions(inChannels: 1, classes: 2, features: [2]),
                                     channels: ["T2"], patchXYZ: [4, 4, 4],
                                     labels: [LabelDefinition(name: "background", value: 0),
                                              LabelDefinition(name: "big", value: 1 << 40)])
        XCTAssertThrowsError(try TrainedModel.load(path: path, threads: 1)) { error in
            XCTAssert("\(error)".contains("\"big\" has value"), "\(error)")
        }
    }
}

/// What the fuzzer found in the section table.
final class CheckpointCorruptTableTests: XCTestCase {
    /// A section length of Int.max (header CRC fixed up) trapped on overflow while the
    /// "truncated" error computed the bytes the section needs.
    func testSectionLengthNearIntMaxIsReportedAsTruncated() throws {
        let folder = try InferFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/a.ckpt"
        try InferFixtures.checkpoint(at: path, options: UNet3DOptions(inChannels: 1, classes: 2, features: [2]),
                                     channels: ["T2"], patchXYZ: [4, 4, 4])
        let checkpoint = try Checkpoint.read(path: path)
        for length in [UInt64(Int64.max), UInt64(Int64.max) - 3, 1 << 62] {
            var b = checkpoint.encoded()
            var offset = Checkpoint.fixedHeaderBytes
            var lengthAt = -1
            for (name, _) in checkpoint.sections {
                let n = name.utf8.count
                if lengthAt < 0 { lengthAt = offset + 2 + n }
                offset += 2 + n + 12
            }
            for k in 0..<8 { b[lengthAt + k] = UInt8(truncatingIfNeeded: length >> (8 * k)) }
            var crc = ByteWriter()
            crc.append(CRC32.checksum(Array(b[0..<offset])))
            b.replaceSubrange(offset..<offset + 4, with: crc.bytes)
            try Data(b).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Checkpoint.read(path: path)) { error in
                let text = "\(error)"
                XCTAssert(text.hasPrefix("checkpoint \(path): truncated in section \"\(checkpoint.sections[0].name)\""), text)
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
    }
}

/// What the fuzzer found in the "model" section (DRO_FUZZ_SEED=4026034010, mutation 1954): a
/// tensor name damaged into one with a newline was quoted across lines by the resume path's
/// "network differs" message.
final class CheckpointCorruptModelTests: XCTestCase {
    func testDamagedTensorNameIsRefusedInOneLineByBothReaders() throws {
        let folder = try InferFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/a.ckpt"
        let base = try CheckpointFuzzTests.base("sgd", adamW: false, hardness: false,
                                                options: UNet3DOptions(inChannels: 1, classes: 2, features: [2, 4]),
                                                channels: ["T2"])
        var checkpoint = base.checkpoint
        var model = try XCTUnwrap(checkpoint.sections.first { $0.0 == UNet3D.parameterSection }?.1)
        let name = Array("encoder.0.0.norm.bias".utf8)
        let at = try XCTUnwrap((0...(model.count - name.count)).first { Array(model[$0..<$0 + name.count]) == name })
        model[at + 9] = UInt8(ascii: "\n")   // "encoder.0\n0.norm.bias": same length, CRCs fixed by set
        checkpoint.set(UNet3D.parameterSection, model)
        try checkpoint.write(to: path)

        for (reader, read) in [("TrainedModel.load", { _ = try TrainedModel.load(path: path, threads: 1) }),
                               ("resume", { try base.model.loadState(from: try Checkpoint.read(path: path), path: path) })] {
            XCTAssertThrowsError(try read(), reader) { error in
                let text = "\(error)"
                XCTAssert(text.contains(path) && !text.contains("\n") && text.contains("damaged"), "\(reader): \(text)")
            }
        }
    }
}
