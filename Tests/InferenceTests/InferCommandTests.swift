import XCTest
import Config
import NIfTI
@testable import Commands
@testable import DataPipeline
@testable import Inference
@testable import Model
import TestSupport

/// `InferCommand.run` on files written to disk: output geometry, multi-channel cases, failures,
/// overwrite rules, probabilities, usage errors.
final class InferCommandTests: XCTestCase {
    var folder = ""
    var checkpoint = ""
    override func setUpWithError() throws {
        folder = try InferFixtures.temporaryFolder()
        checkpoint = folder + "/model.ckpt"
        try InferFixtures.checkpoint(at: checkpoint, options: UNet3DOptions(inChannels: 1, classes: 3, features: [2, 4]),
                                     channels: ["T2"], patchXYZ: [8, 8, 8])
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func run(_ inputs: [String], _ output: String, model: String? = nil, _ edit: (inout InferOptions) -> Void = { _ in })
        -> (status: Int32, err: [String]) {
        var options = InferOptions(model: model ?? checkpoint, inputs: inputs, output: output)
        options.threads = 1
        edit(&options)
        let lines = InferFixtures.Lines()
        let status = InferCommand.run(options, output: lines.output)
        XCTAssertEqual(lines.out, [], "results go to files; stdout stays empty")
        return (status, lines.err)
    }

    /// Inputs with the geometries scanners write, saved and read back so that both sides of the
    /// comparison went through the file format.
    func geometryInputs(in dir: String) throws -> [String: NIfTIImage] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let angle = 30.0 * Double.pi / 180, s = 0.8
        var oblique = InferFixtures.image(shape: [10, 12, 9], spacing: [s, s, s], values: InferFixtures.phantom([10, 12, 9]))
        oblique.header.srowX = [s * cos(angle), -s * sin(angle), 0, -20.5]
        oblique.header.srowY = [s * sin(angle), s * cos(angle), 0, 11.25]
        oblique.header.srowZ = [0, 0, s, 3]
        oblique.header.sformCode = 2
        oblique.header.quaternD = sin(angle / 2)
        oblique.header.qoffsetX = -20.5; oblique.header.qoffsetY = 11.25; oblique.header.qoffsetZ = 3
        var anisotropic = InferFixtures.image(shape: [16, 14, 5], spacing: [0.5, 0.6, 3], values: InferFixtures.phantom([16, 14, 5]))
        anisotropic.header.srowX[3] = 7; anisotropic.header.qoffsetX = 7
        var qformOnly = InferFixtures.image(shape: [9, 9, 11], spacing: [1, 1.2, 0.9], values: InferFixtures.phantom([9, 9, 11]))
        qformOnly.header.sformCode = 0
        qformOnly.header.srowX = [9, 9, 9, 9]   // ignored by readers (code 0) but kept on write
        qformOnly.header.pixdim[0] = -1          // qfac −1: the z axis is flipped
        qformOnly.header.quaternB = 0.5; qformOnly.header.quaternC = 0.5; qformOnly.header.quaternD = 0.5
        var sformOnly = InferFixtures.image(shape: [12, 8, 10], spacing: [1, 1, 1], values: InferFixtures.phantom([12, 8, 10]))
        sformOnly.header.qformCode = 0
        sformOnly.header.sformCode = 4
        sformOnly.header.srowX = [0, 0, -1.1, 40]; sformOnly.header.srowY = [0.9, 0, 0, -3]; sformOnly.header.srowZ = [0, 1.3, 0.1, 2]
        var read: [String: NIfTIImage] = [:]
        for (name, image) in ["oblique": oblique, "anisotropic": anisotropic, "qform_only": qformOnly, "sform": sformOnly] {
            let path = "\(dir)/\(name).nii.gz"
            try image.write(to: path)
            read[name] = try NIfTIImage.read(path: path)
        }
        return read
    }

    func assertSameGeometry(_ out: NIfTIHeader, _ input: NIfTIHeader, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(out.shape, Array(input.shape.prefix(3)), name, file: file, line: line)
        XCTAssertEqual(out.qformCode, input.qformCode, name, file: file, line: line)
        XCTAssertEqual(out.sformCode, input.sformCode, name, file: file, line: line)
        XCTAssertEqual([out.quaternB, out.quaternC, out.quaternD, out.qoffsetX, out.qoffsetY, out.qoffsetZ],
                       [input.quaternB, input.quaternC, input.quaternD, input.qoffsetX, input.qoffsetY, input.qoffsetZ],
                       name, file: file, line: line)
        XCTAssertEqual([out.srowX, out.srowY, out.srowZ], [input.srowX, input.srowY, input.srowZ], name, file: file, line: line)
        XCTAssertEqual(Array(out.pixdim[0...3]), Array(input.pixdim[0...3]), name, file: file, line: line)
        XCTAssertEqual(out.xyztUnits, input.xyztUnits, name, file: file, line: line)
        XCTAssertEqual(out.bestAffine, input.bestAffine, name, file: file, line: line)
        XCTAssertEqual(out.scaling?.slope ?? 1, 1, name, file: file, line: line)
    }

    func testOutputGeometryEqualsInputGeometry() throws {
        var resampling = PreprocessingOptions()
        resampling.targetSpacing = Spacing(x: 1, y: 1, z: 1.5)
        let resampled = folder + "/resampling.ckpt"
        try InferFixtures.checkpoint(at: resampled, options: UNet3DOptions(inChannels: 1, classes: 3, features: [2, 4]),
                                     channels: ["T2"], patchXYZ: [8, 8, 8], preprocessing: resampling)
        let inputs = try geometryInputs(in: folder + "/in")
        for (tag, model) in [("plain", checkpoint), ("resampling", resampled)] {
            let out = folder + "/out-" + tag
            let (status, err) = run([folder + "/in"], out, model: model) { $0.settings.tta = tag == "resampling" }
            XCTAssertEqual(status, 0, "\(err)")
            XCTAssertEqual(err.count, inputs.count + 1, "one progress line per case and a summary: \(err)")
            XCTAssertTrue(err.contains { $0.hasPrefix("dro-infer: [1/4] anisotropic: 16×14×5, ") && $0.hasSuffix(" → \(out)/anisotropic.nii.gz") }, "\(err)")
            for (name, input) in inputs {
                let written = try NIfTIImage.read(path: "\(out)/\(name).nii.gz")
                XCTAssertEqual(written.datatype, .uint8)
                assertSameGeometry(written.header, input.header, "\(tag) \(name)")
                XCTAssertTrue(written.floatValues().allSatisfy { [0, 1, 2].contains($0) }, "\(tag) \(name): label values")
            }
        }
    }

    func testMultiChannelCasesAndChannelChecks() throws {
        let twoChannel = folder + "/two.ckpt"
        try InferFixtures.checkpoint(at: twoChannel, options: UNet3DOptions(inChannels: 2, classes: 2, features: [2, 4]),
                                     channels: ["T2", "ADC"], patchXYZ: [8, 8, 8])
        let images = folder + "/data/imagesTs"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        let shape = [9, 10, 8]
        for (id, channels) in [("a", [0, 1]), ("b", [0, 1]), ("c", [0])] {
            for c in channels {
                try InferFixtures.image(shape: shape, values: InferFixtures.phantom(shape, seed: UInt64(c + 1)))
                    .write(to: "\(images)/\(id)_\(String(format: "%04d", c)).nii.gz")
            }
        }
        // nnU-Net's dataset.json one level up names the channels.
        let json = folder + "/data/dataset.json"
        try #"{"channel_names": {"0": "T2", "1": "ADC"}, "labels": {"background": 0, "x": 1}, "file_ending": ".nii.gz"}"#
            .write(toFile: json, atomically: true, encoding: .utf8)
        var (status, err) = run([images], folder + "/out", model: twoChannel)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(err.last, "dro-infer: 1 of 3 case(s) failed: c")
        XCTAssertTrue(err.contains("dro-infer: [3/3] c failed: case c: channel files _0000; the model expects _0000 (T2), _0001 (ADC)"), "\(err)")
        for id in ["a", "b"] {
            XCTAssertEqual(try NIfTIImage.read(path: "\(folder)/out/\(id).nii.gz").shape, shape)
        }
        // The same case as one 4-D file (MSD style) gives the same labels.
        let a0 = try NIfTIImage.read(path: "\(images)/a_0000.nii.gz"), a1 = try NIfTIImage.read(path: "\(images)/a_0001.nii.gz")
        try NIfTIImage.like(a0, shape: shape + [2], values: a0.floatValues() + a1.floatValues()).write(to: folder + "/a4d.nii.gz")
        (status, err) = run([folder + "/a4d.nii.gz"], folder + "/a4d-labels.nii.gz", model: twoChannel)
        XCTAssertEqual(status, 0, "\(err)")
        XCTAssertEqual(try NIfTIImage.read(path: folder + "/a4d-labels.nii.gz").data, try NIfTIImage.read(path: "\(folder)/out/a.nii.gz").data)
        // A 3-D file for a 2-channel model: that case fails, naming the file and what is expected.
        (status, err) = run(["\(images)/c_0000.nii.gz"], folder + "/c", model: twoChannel)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(err.first, "dro-infer: [1/1] c failed: case c: channel files _0000; the model expects _0000 (T2), _0001 (ADC)")
        try InferFixtures.image(shape: shape, values: InferFixtures.phantom(shape)).write(to: folder + "/plain.nii.gz")
        (status, err) = run([folder + "/plain.nii.gz"], folder + "/p", model: twoChannel)
        XCTAssertEqual(err.first, "dro-infer: [1/1] plain failed: case plain: \(folder)/plain.nii.gz: shape 9×10×8, expected a 4-D volume with 2 channels (nx×ny×nz×2)")
        // Channel names that differ from the checkpoint's are refused before any case runs.
        try #"{"channel_names": {"0": "FLAIR", "1": "ADC"}, "labels": {"background": 0, "x": 1}}"#
            .write(toFile: json, atomically: true, encoding: .utf8)
        (status, err) = run([images], folder + "/out2", model: twoChannel)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(err, ["dro-infer: \(json): channels [\"FLAIR\", \"ADC\"], but the model expects [\"T2\", \"ADC\"] "
                             + "(pass --ignore-channel-names if only the names differ)"])
        (status, err) = run([images], folder + "/out2", model: twoChannel) { $0.checkChannelNames = false }
        XCTAssertEqual(err.last, "dro-infer: 1 of 3 case(s) failed: c")
        // The one-channel model against this two-channel dataset: the counts differ.
        (status, err) = run([images], folder + "/out3") { $0.checkChannelNames = false }
        XCTAssertEqual(err, ["dro-infer: \(json): channels [\"FLAIR\", \"ADC\"], but the model expects [\"T2\"]"])
    }

    func testFailingCaseDoesNotStopTheRunAndOutputsAreNotOverwritten() throws {
        let input = folder + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        for id in ["p1", "p3"] {
            try InferFixtures.image(shape: [8, 9, 10], values: InferFixtures.phantom([8, 9, 10])).write(to: "\(input)/\(id).nii.gz")
        }
        try Data("not a nifti".utf8).write(to: URL(fileURLWithPath: input + "/p2.nii.gz"))
        let out = folder + "/out"
        var (status, err) = run([input], out)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(err.count, 4, "\(err)")
        XCTAssertTrue(err[1].hasPrefix("dro-infer: [2/3] p2 failed: case p2: \(input)/p2.nii.gz: cannot read: "), err[1])
        XCTAssertEqual(err.last, "dro-infer: 1 of 3 case(s) failed: p2")
        let first = try Data(contentsOf: URL(fileURLWithPath: out + "/p1.nii.gz"))
        // A second run into the same folder keeps what is there.
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: out + "/p3.nii.gz"))
        (status, err) = run([input], out)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(err[0], "dro-infer: [1/3] p1 failed: case p1: output \(out)/p1.nii.gz exists; not overwritten (pass --overwrite to replace it)")
        XCTAssertEqual(err.last, "dro-infer: 3 of 3 case(s) failed: p1, p2, p3")
        XCTAssertEqual(try String(contentsOfFile: out + "/p3.nii.gz", encoding: .utf8), "keep me")
        (status, err) = run([input], out) { $0.overwrite = true }
        XCTAssertEqual(status, 1)
        XCTAssertEqual(err.last, "dro-infer: 1 of 3 case(s) failed: p2")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/p1.nii.gz")), first, "same model, same input, same bytes")
        XCTAssertEqual(try NIfTIImage.read(path: out + "/p3.nii.gz").shape, [8, 9, 10])
        // Never over an input, even with --overwrite.
        (status, err) = run([input + "/p1.nii.gz"], input) { $0.overwrite = true }
        XCTAssertEqual(err.first, "dro-infer: [1/1] p1 failed: case p1: cannot write \(input)/p1.nii.gz: it is this case's input image")
    }

    func testUsageAndStartErrors() throws {
        try InferFixtures.image(shape: [8, 8, 8], values: InferFixtures.phantom([8, 8, 8])).write(to: folder + "/a.nii.gz")
        try InferFixtures.image(shape: [8, 8, 8], values: InferFixtures.phantom([8, 8, 8])).write(to: folder + "/b.nii")
        var (status, err) = run([folder + "/a.nii.gz"], folder + "/o") { $0.settings.overlap = 1 }
        XCTAssertEqual(status, 64)
        XCTAssertEqual(err, ["dro-infer: --overlap: 1.0; allowed: a fraction in [0, 1)"])
        (status, err) = run([folder + "/a.nii.gz", folder + "/b.nii"], folder + "/x.nii.gz")
        XCTAssertEqual(status, 64)
        XCTAssertEqual(err, ["dro-infer: --output \(folder)/x.nii.gz: a file name for 2 cases; allowed: a folder (one CASE.nii.gz per case), or one input case"])
        (status, err) = run([folder + "/missing.nii.gz"], folder + "/o")
        XCTAssertEqual(status, 1)
        XCTAssertEqual(err, ["dro-infer: --input \(folder)/missing.nii.gz: no such file or folder"])
        (status, err) = run([folder + "/a.nii.gz", folder + "/a.nii.gz"], folder + "/o")
        XCTAssertEqual(err, ["dro-infer: case a: given more than once (\(folder)/a.nii.gz, \(folder)/a.nii.gz); each case needs its own output"])
        (status, err) = run([folder + "/a.nii.gz"], folder + "/o", model: folder + "/a.nii.gz")
        XCTAssertEqual(status, 1)
        XCTAssertTrue(err[0].hasPrefix("dro-infer: checkpoint \(folder)/a.nii.gz: not a dro-seg checkpoint"), "\(err)")
        // An ensemble member with other labels.
        let other = folder + "/other.ckpt"
        try InferFixtures.checkpoint(at: other, options: UNet3DOptions(inChannels: 1, classes: 3, features: [2, 4]), channels: ["T2"],
                                     patchXYZ: [8, 8, 8], labels: [LabelDefinition(name: "background", value: 0),
                                                                   LabelDefinition(name: "liver", value: 1), LabelDefinition(name: "class2", value: 2)])
        (status, err) = run([folder + "/a.nii.gz"], folder + "/o") { $0.ensemble = [other] }
        XCTAssertEqual(status, 1)
        XCTAssertEqual(err, ["dro-infer: --ensemble \(other): labels background=0, liver=1, class2=2 differ from \(checkpoint)'s "
                             + "background=0, class1=1, class2=2; an ensemble needs the same channels, labels and preprocessing"])
    }

    func testProbabilitiesEnsembleAndLargeLabelValues() throws {
        let shape = [11, 9, 10]
        try InferFixtures.image(shape: shape, values: InferFixtures.phantom(shape)).write(to: folder + "/a.nii.gz")
        let second = folder + "/second.ckpt"
        try InferFixtures.checkpoint(at: second, options: UNet3DOptions(inChannels: 1, classes: 3, features: [2, 4]),
                                     channels: ["T2"], patchXYZ: [8, 8, 8], seed: 99)
        func probabilities(_ dir: String, _ ensemble: [String] = [], model: String? = nil) throws -> (p: [Float], labels: [Float]) {
            let (status, err) = run([folder + "/a.nii.gz"], dir, model: model) { $0.settings.probabilities = true; $0.ensemble = ensemble }
            XCTAssertEqual(status, 0, "\(err)")
            let p = try NIfTIImage.read(path: dir + "/a_probabilities.nii.gz")
            XCTAssertEqual(p.shape, shape + [3])
            XCTAssertEqual(p.datatype, .float32)
            return (p.floatValues(), try NIfTIImage.read(path: dir + "/a.nii.gz").floatValues())
        }
        let one = try probabilities(folder + "/one"), two = try probabilities(folder + "/two", model: second)
        let both = try probabilities(folder + "/both", [second])
        let v = shape.reduce(1, *)
        for i in 0..<v {
            let p = (0..<3).map { one.p[$0 * v + i] }
            XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual(Float(p.firstIndex(of: p.max()!)!), one.labels[i], "argmax of the probabilities is the label")
            // Ensemble = mean of the two softmax maps (float rounding of the sum: 1e-6).
            for c in 0..<3 { XCTAssertEqual(both.p[c * v + i], (one.p[c * v + i] + two.p[c * v + i]) / 2, accuracy: 1e-6) }
        }
        XCTAssertNotEqual(one.p, two.p, "the two checkpoints really differ")

        // 257 classes: label 256 needs uint16. Head bias +10 on the last class makes it win.
        let wide = folder + "/wide.ckpt"
        try InferFixtures.checkpoint(at: wide, options: UNet3DOptions(inChannels: 1, classes: 257, features: [2]),
                                     channels: ["T2"], patchXYZ: [4, 4, 4]) { net in
            InferFixtures.set(net, "head.bias", [Float](repeating: 0, count: 256) + [10])
        }
        let (status, err) = run([folder + "/a.nii.gz"], folder + "/wide", model: wide)
        XCTAssertEqual(status, 0, "\(err)")
        let labels = try NIfTIImage.read(path: folder + "/wide/a.nii.gz")
        XCTAssertEqual(labels.datatype, .uint16)
        // The phantom's zero border is outside the crop box: background there, 256 inside.
        XCTAssertEqual(Set(labels.floatValues()), [0, 256])
        XCTAssertEqual(labels.floatValues()[0], 0)
    }

    func testLargestComponentPerLabel() {
        // 1×3×7 grid (D×H×W). Label 1: a 3-voxel run and a 2-voxel run that touches it only
        // diagonally; label 2: two single voxels (the first found is kept).
        let shape = GridShape(d: 1, h: 3, w: 7)
        let map: [Int32] = [1, 1, 1, 0, 0, 2, 0,
                            0, 0, 0, 1, 1, 0, 0,
                            0, 2, 0, 0, 0, 0, 0]
        var six = map
        LargestComponent.keep(&six, shape: shape, connectivity: .faces)
        XCTAssertEqual(six, [1, 1, 1, 0, 0, 2, 0,
                             0, 0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0, 0])
        var full = map
        LargestComponent.keep(&full, shape: shape, connectivity: .full)
        XCTAssertEqual(full, [1, 1, 1, 0, 0, 2, 0,
                              0, 0, 0, 1, 1, 0, 0,
                              0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Connectivity.faces.offsets.count, 6)
        XCTAssertEqual(Connectivity.full.offsets.count, 26)
    }
}
