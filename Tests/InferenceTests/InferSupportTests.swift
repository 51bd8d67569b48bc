import Common
import XCTest
import Config
import NIfTI
import Tensor
@testable import DataPipeline
@testable import Inference
@testable import Model
@testable import Training
import TestSupport

/// Fixtures of the inference tests: checkpoints written by the training code's own writers
/// (`TrainRun.sections`, `UNetTrainingModel.saveState`), and NIfTI inputs with chosen geometry.
enum InferFixtures {
    /// Writes a checkpoint of a freshly initialised network (seeded), after `edit` has changed
    /// its parameters; returns the network.
    @discardableResult
    static func checkpoint(at path: String, options: UNet3DOptions, channels: [String], patchXYZ: [Int],
                           preprocessing: PreprocessingOptions = PreprocessingOptions(), labels: [LabelDefinition]? = nil,
                           seed: UInt64 = 1, edit: (UNet3D) -> Void = { _ in }) throws -> UNet3D {
        var rng = SplitMix64(seed: seed)
        let network = try UNet3D(options: options, threads: 1, rng: &rng)
        edit(network)
        let model = UNetTrainingModel(
            network: network, loss: DiceCELoss(),
            optimizer: .sgd(SGDOptimizer(count: network.parameterCount, learningRate: 0.01, momentum: 0.99,
                                         nesterov: true, weightDecay: 0)), threads: 1)
        var config = Config(outputDir: NSTemporaryDirectory())
        config.training.patchSize = patchXYZ
        let definitions = labels ?? (0..<options.classes).map { LabelDefinition(name: $0 == 0 ? "background" : "class\($0)", value: $0) }
        let layout = DatasetLayout(kind: .nnunet, root: nil, channels: channels, labels: definitions, cases: [])
        var checkpoint = Checkpoint()
        for (name, bytes) in try TrainRun.sections(config, yaml: "fixture: true\n", layout: layout, network: options,
                                                   preprocessing: preprocessing) {
            checkpoint.set(name, bytes)
        }
        model.saveState(into: &checkpoint)
        try checkpoint.write(to: path)
        return network
    }

    /// Sets every parameter named `name` (e.g. "head.bias") to `values`.
    static func set(_ network: UNet3D, _ name: String, _ values: [Float]) {
        guard let index = network.arena.layout.index(of: name) else { return XCTFail("no parameter \(name)") }
        let p = network.arena.value(index)
        for (i, v) in values.enumerated() { p[i] = v }
    }

    /// A float32 volume [nx, ny, nz] (+ channels) with a diagonal affine; callers edit its header.
    static func image(shape: [Int], spacing: [Double] = [1, 1, 1], values: [Float]) -> NIfTIImage {
        NIfTIImage(shape: shape, spacing: spacing, values: values)
    }

    /// A blob phantom: background 0 outside a box, `inside` in the box, `bright` in a ball, plus
    /// seeded noise. Values x fastest, for a NIfTI shape [nx, ny, nz].
    static func phantom(_ shape: [Int], seed: UInt64 = 3) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let (nx, ny, nz) = (shape[0], shape[1], shape[2])
        var values = [Float](repeating: 0, count: nx * ny * nz)
        for z in 0..<nz { for y in 0..<ny { for x in 0..<nx {
            guard x > 0, y > 0, z > 0, x < nx - 1, y < ny - 1, z < nz - 1 else { continue }
            let dx = Double(x) - Double(nx) / 2, dy = Double(y) - Double(ny) / 2, dz = Double(z) - Double(nz) / 2
            let ball = dx * dx + dy * dy + dz * dz < Double(min(nx, ny, nz) * min(nx, ny, nz)) / 9
            values[x + nx * (y + ny * z)] = (ball ? 5 : 1) + Float.random(in: -0.2..<0.2, using: &rng)
        }}}
        return values
    }

    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "infer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    typealias Lines = CapturedLines
}

/// Checkpoint → `TrainedModel`: everything written comes back; damaged files are refused with
/// the Checkpoint module's messages.
final class InferSupportTests: XCTestCase {
    var folder = ""
    override func setUpWithError() throws { folder = try InferFixtures.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func testTrainedModelReadsBackTheCheckpoint() throws {
        let path = folder + "/a.ckpt"
        var preprocessing = PreprocessingOptions()
        preprocessing.targetSpacing = Spacing(x: 1, y: 1.5, z: 2)
        let options = UNet3DOptions(inChannels: 2, classes: 3, features: [2, 4])
        let labels = [LabelDefinition(name: "tumour", value: 2), LabelDefinition(name: "background", value: 0),
                      LabelDefinition(name: "oedema", value: 1)]
        let written = try InferFixtures.checkpoint(at: path, options: options, channels: ["T2", "ADC"], patchXYZ: [8, 6, 4],
                                                   preprocessing: preprocessing, labels: labels)
        let model = try TrainedModel.load(path: path, threads: 1)
        XCTAssertEqual(model.network.options, options)
        XCTAssertEqual(model.channels, ["T2", "ADC"])
        XCTAssertEqual(model.labels.map(\.name), ["background", "oedema", "tumour"])
        XCTAssertEqual(model.patch, [4, 6, 8], "patch_size is NIfTI order x, y, z; the window is D×H×W")
        XCTAssertEqual(model.preprocessing, preprocessing)
        XCTAssertEqual(model.network.arena.values.array, written.arena.values.array)
    }

    /// A checkpoint of an anisotropic network: its kernels and strides come back, the window is
    /// checked per axis (z = 3 is not divisible by its stride 2 on z), and a window that fits
    /// segments a volume of other sizes (padding and windows per axis).
    func testAnisotropicCheckpointKeepsKernelsAndChecksTheWindowPerAxis() throws {
        var options = UNet3DOptions(inChannels: 1, classes: 2, features: [2, 4])
        options.kernelSizes = [[3, 3, 1], [3, 3, 3]]
        options.poolStrides = [[2, 2, 1]]
        let path = folder + "/aniso.ckpt"
        let written = try InferFixtures.checkpoint(at: path, options: options, channels: ["T2"], patchXYZ: [8, 6, 3])
        let model = try TrainedModel.load(path: path, threads: 1)
        XCTAssertEqual(model.network.options, options)
        XCTAssertEqual(model.patch, [3, 6, 8])
        XCTAssertEqual(model.network.arena.values.array, written.arena.values.array)
        let volume = [Float](repeating: 0.5, count: 5 * 7 * 11)
        let logits = try volume.withUnsafeBufferPointer {
            try SlidingWindow(patch: model.patch).logits(volume: $0.baseAddress!, spatial: [5, 7, 11], model: model.network)
        }
        XCTAssertEqual(logits.count, 2 * 5 * 7 * 11)
        XCTAssertFalse(logits.contains { !$0.isFinite })

        let bad = folder + "/bad.ckpt"
        try InferFixtures.checkpoint(at: bad, options: UNet3DOptions(inChannels: 1, classes: 2, features: [2, 4]),
                                     channels: ["T2"], patchXYZ: [8, 6, 4])
        // A network pooling z by 2 (the default strides) whose section claims a z = 3 patch.
        var checkpoint = try Checkpoint.read(path: bad)
        var section = try JSONDecoder().decode(NetworkSection.self, from: Data(checkpoint.section(NetworkSection.name)!))
        section.patchSize = [8, 6, 3]
        checkpoint.set(NetworkSection.name, try Checkpoint.json(section))
        try Data(checkpoint.encoded()).write(to: URL(fileURLWithPath: bad))
        XCTAssertThrowsError(try TrainedModel.load(path: bad, threads: 1)) { error in
            XCTAssertTrue("\(error)".contains("patch size = [3, 6, 8]"), "\(error)")
        }
    }

    func testDamagedAndForeignCheckpointsAreRefused() throws {
        let path = folder + "/a.ckpt"
        try InferFixtures.checkpoint(at: path, options: UNet3DOptions(inChannels: 1, classes: 2, features: [2]),
                                     channels: ["T2"], patchXYZ: [4, 4, 4])
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 3] ^= 0x10   // inside the last section (the optimizer's velocity)
        let damaged = folder + "/damaged.ckpt"
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        XCTAssertThrowsError(try TrainedModel.load(path: damaged, threads: 1)) { error in
            XCTAssertTrue("\(error)".hasPrefix("checkpoint \(damaged): corrupt section"), "\(error)")
        }
        let foreign = folder + "/foreign.ckpt"
        try Data("PK\u{3}\u{4}zipzipzip".utf8).write(to: URL(fileURLWithPath: foreign))
        XCTAssertThrowsError(try TrainedModel.load(path: foreign, threads: 1)) { error in
            XCTAssertEqual("\(error)", "checkpoint \(foreign): not a dro-seg checkpoint (starts with \"PK..zipz\", expected \"DROSEGCK\")")
        }
        // A checkpoint without the inference sections (e.g. from another tool version).
        let full = try Checkpoint.read(path: path)
        var stripped = Checkpoint()
        for section in full.sections where section.name != "network" { stripped.set(section.name, section.bytes) }
        let partial = folder + "/partial.ckpt"
        try stripped.write(to: partial)
        XCTAssertThrowsError(try TrainedModel.load(path: partial, threads: 1)) { error in
            XCTAssertEqual("\(error)", "checkpoint \(partial): section \"network\" is missing")
        }
        // Label values the output cannot hold, or repeated, are refused naming the section.
        for (values, reason) in [([0, 1 << 40], "has value 1099511627776, allowed: 0…2147483647"),
                                 ([0, -3], "has value -3"), ([0, 0], "repeat a value")] {
            var edited = Checkpoint()
            for section in full.sections where section.name != "labels" { edited.set(section.name, section.bytes) }
            edited.set("labels", Array("{\"background\": \(values[0]), \"tumour\": \(values[1])}".utf8))
            let labelled = folder + "/labels.ckpt"
            try edited.write(to: labelled)
            XCTAssertThrowsError(try TrainedModel.load(path: labelled, threads: 1)) { error in
                XCTAssertTrue("\(error)".hasPrefix("checkpoint \(labelled): section \"labels\""), "\(error)")
                XCTAssertTrue("\(error)".contains(reason), "\(error)")
            }
        }
        XCTAssertThrowsError(try TrainedModel.load(path: folder + "/none.ckpt", threads: 1)) { error in
            XCTAssertTrue("\(error)".hasPrefix("checkpoint \(folder)/none.ckpt: cannot open"), "\(error)")
        }
    }
}
