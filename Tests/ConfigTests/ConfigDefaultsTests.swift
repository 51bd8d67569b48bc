import Foundation
import XCTest
@testable import Config
import Sampling

final class ConfigDefaultsTests: XCTestCase {
    func testDefaultsFollowReference() throws {
        let c = try decodeConfig(minimalData)
        // docs/method.md §2: β = 100, L_init = 2, m = 0, clip [0.1, 10], importance sampling off, floor on.
        XCTAssertEqual(c.sampler.kind, .hardness)
        XCTAssertEqual(c.sampler.hardness.beta, 100)
        XCTAssertEqual(c.sampler.hardness.initLoss, 2)
        XCTAssertEqual(c.sampler.hardness.momentum, 0)
        XCTAssertEqual(c.sampler.hardness.clip, ClipRange(lower: 0.1, upper: 10))
        XCTAssertFalse(c.sampler.hardness.importanceSampling)
        XCTAssertTrue(c.sampler.hardness.floorEnabled)
        XCTAssertEqual(c.sampler.hardness.floor, 1e-4)
        XCTAssertEqual(c.sampler.unit, .wholeCase)
        // docs/method.md §2 and nnU-Net: SGD 0.01, Nesterov 0.99, wd 3e-5, clip 12, poly 0.9.
        XCTAssertEqual(c.training.optimizer, .sgd)
        XCTAssertEqual(c.training.lr, 0.01)
        XCTAssertEqual(c.training.momentum, 0.99)
        XCTAssertTrue(c.training.nesterov)
        XCTAssertEqual(c.training.weightDecay, 3e-5)
        XCTAssertEqual(c.training.gradClip, 12)
        XCTAssertEqual(c.training.polyExponent, 0.9)
        XCTAssertEqual(c.training.patchSize, [64, 64, 64])
        XCTAssertEqual(c.training.batchSize, 2)
        XCTAssertNil(c.training.iterationsPerEpoch)
        XCTAssertEqual(c.training.threads, 2)
        XCTAssertEqual(c.training.foregroundFraction, 0.33)
        XCTAssertEqual(c.training.loss.diceSmooth, 1e-5)
        XCTAssertFalse(c.training.loss.batchDice)
        XCTAssertEqual(c.model.features, [32, 64, 128, 256, 320])
        XCTAssertEqual(c.model.normEps, 1e-5)
        XCTAssertEqual(c.model.leakySlope, 0.01)
        XCTAssertFalse(c.model.deepSupervision)
        XCTAssertEqual(c.inference.overlap, 0.5)
        XCTAssertEqual(c.inference.gaussianSigmaScale, 0.125)
        XCTAssertEqual(c.inference.batch, 1)
        XCTAssertFalse(c.inference.tta)
        XCTAssertEqual(c.data.valFraction, 0.2)
        XCTAssertEqual(c.data.layout, .auto)
        XCTAssertEqual(c.data.cache, .auto)
        XCTAssertNil(c.data.labels)
        // nnU-Net v2 augmentation: mirror p 0.5 on 3 axes, rotation p 0.2 ±30°, elastic off,
        // gamma p 0.3 (inverted p 0.1), brightness/contrast p 0.15, noise p 0.1, blur p 0.2.
        let a = c.training.augmentation
        XCTAssertTrue(a.enabled && a.mirrorEnabled)
        XCTAssertEqual(a.mirrorAxes, [true, true, true])
        XCTAssertEqual(a.mirrorProbabilityPerAxis, 0.5)
        XCTAssertEqual(a.rotation, RandomTransformOptions(probability: 0.2, range: ParameterRange(-30, 30)))
        XCTAssertEqual(a.scaling, RandomTransformOptions(probability: 0.2, range: ParameterRange(0.7, 1.4)))
        XCTAssertFalse(a.elastic.enabled)
        XCTAssertEqual(a.gamma, RandomTransformOptions(probability: 0.3, range: ParameterRange(0.7, 1.5)))
        XCTAssertEqual(a.invertedGamma, RandomTransformOptions(probability: 0.1, range: ParameterRange(0.7, 1.5)))
        XCTAssertEqual(a.brightness, RandomTransformOptions(probability: 0.15, range: ParameterRange(0.75, 1.25)))
        XCTAssertEqual(a.contrast, RandomTransformOptions(probability: 0.15, range: ParameterRange(0.75, 1.25)))
        XCTAssertEqual(a.noise, RandomTransformOptions(probability: 0.1, range: ParameterRange(0, 0.1)))
        XCTAssertEqual(a.blur, RandomTransformOptions(probability: 0.2, range: ParameterRange(0.5, 1.0)))
        // The section decodes straight into the data pipeline's options: no key means its defaults.
        XCTAssertEqual(a, AugmentationOptions())
        XCTAssertEqual(a.blurProbabilityPerChannel, 0.5)
        XCTAssertEqual(a.labelInterpolation, .linearVote)
        // Output defaults to runs/<config name> next to the config file.
        XCTAssertEqual(c.output.dir, "/work/cfgdir/runs/test")
        XCTAssertEqual(c.output.checkpointEvery, 50)
        XCTAssertTrue(c.output.plots)
    }

    func testRelativePathsResolveAgainstConfigFolder() throws {
        let c = try decodeConfig("""
        data:
          dataset: ../data/set1
          groups: groups.csv
        output:
          dir: /abs/out
        """, base: "/home/u/project/configs")
        XCTAssertEqual(c.data.dataset, "/home/u/project/data/set1")
        XCTAssertEqual(c.data.groups, "/home/u/project/configs/groups.csv")
        XCTAssertEqual(c.output.dir, "/abs/out")
    }

    func testExplicitCaseListPathsResolve() throws {
        let c = try decodeConfig("""
        data:
          layout: list
          channels: [T1, T2]
          cases:
            - {id: a, images: [a_t1.nii.gz, a_t2.nii.gz], label: a_seg.nii.gz, group: rare}
            - id: b
              images: b.nii.gz
        """, base: "/d")
        XCTAssertEqual(c.data.cases, [
            CaseEntry(id: "a", images: ["/d/a_t1.nii.gz", "/d/a_t2.nii.gz"], label: "/d/a_seg.nii.gz", group: "rare"),
            CaseEntry(id: "b", images: ["/d/b.nii.gz"], label: nil),
        ])
    }

    func testShippedConfigsValidate() throws {
        for name in ["fetal", "demo", "bench"] {
            let path = "\(repositoryRoot)/configs/\(name).cfg"
            let c: Config
            do { c = try Config.load(path: path) } catch { XCTFail("\(name).cfg: \(error)"); continue }
            XCTAssertEqual(c.output.dir, "\(repositoryRoot)/runs/\(name)", name)
        }
        let fetal = try Config.load(path: "\(repositoryRoot)/configs/fetal.cfg")
        XCTAssertEqual(fetal.data.labels?.map { $0.name }, ["background", "external_csf", "grey_matter",
            "white_matter", "ventricles", "cerebellum", "deep_grey_matter", "brainstem", "corpus_callosum"])
        XCTAssertEqual(fetal.data.labels?.map { $0.value }, Array(0...8))
        XCTAssertEqual(fetal.data.channels, ["T2w"])
        XCTAssertEqual(fetal.sampler.hardness.beta, 100)
        let demo = try Config.load(path: "\(repositoryRoot)/configs/demo.cfg")
        XCTAssertEqual(demo.data.labels?.map { $0.name }, ["background", "external_csf", "grey_matter",
            "white_matter", "ventricles", "deep_grey"])
        XCTAssertEqual(demo.data.dataset, "\(repositoryRoot)/runs/demo-data")
        XCTAssertNotNil(demo.data.demo)
        XCTAssertEqual(demo.sampler.kind, .hardness)
        let bench = try Config.load(path: "\(repositoryRoot)/configs/bench.cfg")
        // docs/method.md §4: 1 channel, 4 classes, [16, 32, 64, 128], batch 2, 64³, SGD, 2 threads.
        XCTAssertEqual(bench.data.channels?.count, 1)
        XCTAssertEqual(bench.data.labels?.count, 4)
        XCTAssertEqual(bench.model.features, ModelConfig.benchFeatures)
        XCTAssertEqual(bench.training.batchSize, 2)
        XCTAssertEqual(bench.training.patchSize, [64, 64, 64])
        XCTAssertEqual(bench.training.optimizer, .sgd)
        XCTAssertEqual(bench.training.lr, 0.01)
        XCTAssertEqual(bench.training.momentum, 0.99)
        XCTAssertTrue(bench.training.nesterov)
        XCTAssertEqual(bench.training.weightDecay, 3e-5)
        XCTAssertEqual(bench.training.threads, 2)
    }

    func testResolvedYAMLRoundTrips() throws {
        for name in ["fetal", "demo", "bench"] {
            let c = try Config.load(path: "\(repositoryRoot)/configs/\(name).cfg")
            let yaml = try c.resolvedYAML()
            // Decoded from another folder: every path in the resolved YAML is absolute.
            let back = try Config.decode(yaml: yaml, sourceName: "resolved.yaml", baseDirectory: "/elsewhere")
            XCTAssertEqual(back, c, "\(name):\n\(yaml)")
        }
        // Non-default values of every kind, including nulls, lists, val_cases and cases.
        let c = try decodeConfig("""
        data:
          layout: list
          channels: [T1, "0"]
          cases: [{id: "007", images: [x.nii, y.nii], label: null}, {id: b, images: [z.nii], group: "true"}]
          val_cases: [b]
          target_spacing: [0.5, 0.5, 1.25]
          demo: {cases: 5}
        training:
          grad_clip: null
          iterations_per_epoch: 7
          weight_decay: 1e-7
          augmentation: {enabled: false, label_interpolation: nearest, flip: {axes: [2]}, gamma: {range: [0.5, 2], inverted_probability: 0}, elastic: {enabled: true, magnitude: [0.1, 0.3]}, blur: {probability_per_channel: 1}}
        """)
        let back = try decodeConfig(try c.resolvedYAML(), base: "/x")
        let yaml = try c.resolvedYAML()
        XCTAssertEqual(back, c, yaml)
        XCTAssertNil(back.training.gradClip)
        XCTAssertEqual(back.training.weightDecay, 1e-7)
    }

    func testWriteResolvedLoadsBack() throws {
        let c = try Config.load(path: "\(repositoryRoot)/configs/demo.cfg", overrides: ["training.lr=0.002"])
        let path = NSTemporaryDirectory() + "dro-resolved-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try c.writeResolved(to: path)
        XCTAssertEqual(try Config.load(path: path), c)
    }

    func testAnchorsAndAliasesAreFollowed() throws {
        let c = try decodeConfig("""
        data: {dataset: d}
        training:
          patch_size: &patch [32, 32, 32]
        inference:
          batch: &one 1
        model:
          features: [8, 16]
        sampler:
          init_loss: *one
        """)
        XCTAssertEqual(c.training.patchSize, [32, 32, 32])
        XCTAssertEqual(c.sampler.hardness.initLoss, 1)
    }

    func testResolvedYAMLIsYAML11Friendly() throws {
        // PyYAML (YAML 1.1) reads "3e-05" as text; we must write "3.0e-05".
        let yaml = try decodeConfig(minimalData).resolvedYAML()
        XCTAssertTrue(yaml.contains("weight_decay: 3.0e-05"), yaml)
        XCTAssertTrue(yaml.contains("lr: 0.01"), yaml)
    }
}
