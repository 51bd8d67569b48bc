import Foundation
import XCTest
@testable import Config

final class ConfigErrorTests: XCTestCase {
    func testUnknownKeySuggestsNearest() {
        let p = problems("""
        data:
          dataset: d
        training:
          lrr: 0.1
        """)
        XCTAssertEqual(p.count, 1)
        XCTAssertEqual(p.first?.description, "test.cfg:4: unknown key 'training.lrr'; did you mean 'training.lr'?")
    }

    func testUnknownSectionSuggestsNearest() {
        let p = problems("data: {dataset: d}\nsampeler:\n  beta: 3\n")
        XCTAssertEqual(p.map(\.description), ["test.cfg:2: unknown key 'sampeler'; did you mean 'sampler'?"])
    }

    func testUnknownKeyWithoutNearMissListsAllowed() {
        let p = problems("data: {dataset: d}\ninference:\n  zzzzzz: 1\n")
        XCTAssertEqual(p.first?.description,
                       "test.cfg:3: unknown key 'inference.zzzzzz'; allowed keys here: overlap, gaussian_sigma_scale, tta, batch")
    }

    func testWrongTypeNamesKeyLineValueAndExpected() {
        let p = problems("data: {dataset: d}\ntraining:\n  batch_size: two\n  patch_size: {x: 1}\n  nesterov: 1\n")
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:3: training.batch_size: found two, expected an integer ≥ 1",
            "test.cfg:4: training.patch_size: found a mapping, expected a list of 3 integers, each ≥ 1",
            "test.cfg:5: training.nesterov: found 1, expected true or false",
        ])
    }

    func testOutOfRangeNamesAllowedRange() {
        let p = problems("data: {dataset: d}\nsampler:\n  momentum: 1\n  beta: -1\ntraining:\n  lr: 0\n  patch_size: [64, 0, 64]\n")
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:3: sampler.momentum: value 1 is out of range; allowed: a number in [0, 1)",
            "test.cfg:4: sampler.beta: value -1 is out of range; allowed: a number ≥ 0",
            "test.cfg:6: training.lr: value 0 is out of range; allowed: a number > 0",
            "test.cfg:7: training.patch_size[1]: value 0 is out of range; allowed: an integer ≥ 1",
        ])
    }

    func testScalarSpellings() throws {
        // Plain exponent notation is a number here (YAML 1.1 would read "1e-3" as text).
        let c = try decodeConfig("data: {dataset: d}\ntraining: {lr: 1e-3, weight_decay: 0, epochs: 1_000}\n")
        XCTAssertEqual(c.training.lr, 0.001)
        XCTAssertEqual(c.training.weightDecay, 0)
        XCTAssertEqual(c.training.epochs, 1000)
        // Quoted text is never a number; yes/no are not booleans; .nan is not a finite number.
        let p = problems("data: {dataset: d}\ntraining: {lr: '0.1', nesterov: yes, weight_decay: .nan}\n")
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:2: training.lr: found '0.1' (quoted text), expected a number > 0",
            "test.cfg:2: training.nesterov: found yes, expected true or false",
            "test.cfg:2: training.weight_decay: found .nan, expected a number ≥ 0",
        ])
    }

    func testNullOnlyWhereAllowed() throws {
        let p = problems("data: {dataset: d}\ntraining:\n  lr:\n  patch_size: null\n")
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:3: training.lr: found null, expected a number > 0",
            "test.cfg:4: training.patch_size: found null, expected a list of 3 integers, each ≥ 1",
        ])
        let c = try decodeConfig("data: {dataset: d, groups: null, target_spacing: ~}\ntraining: {iterations_per_epoch: null, grad_clip: null}\n")
        XCTAssertNil(c.data.groups)
        XCTAssertNil(c.training.iterationsPerEpoch)
        XCTAssertNil(c.training.gradClip)
    }

    func testDocumentMustBeAMapping() {
        let p = problems("- data\n- model\n")
        XCTAssertTrue(p.map(\.description).contains("test.cfg:1: (document): found a list, expected a mapping of keys"), "\(p)")
    }

    func testInvalidChoiceSuggests() {
        let p = problems("data: {dataset: d}\nsampler: {kind: hardnes}\n")
        XCTAssertEqual(p.first?.description,
                       "test.cfg:2: sampler.kind: found 'hardnes', allowed: one of uniform, hardness, group_balanced; did you mean 'hardness'?")
    }

    func testAllProblemsReportedInOnePassInLineOrder() {
        let p = problems("""
        model:
          features: [16, 32, 64]
        training:
          optimiser: sgd
          epochs: 0
        data:
          dataset: d
          val_fraction: 1.5
        """)
        XCTAssertEqual(p.count, 3, p.description)
        XCTAssertEqual(p.map { description(of: $0).line }, [4, 5, 8])
        XCTAssertTrue(p[0].description.contains("did you mean 'training.optimizer'"))
    }

    func testCaseListItemsMustBeMappings() {
        let p = problems("data:\n  cases:\n    - a.nii\n    - {id: b, imags: [b.nii]}\n")
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:3: data.cases[0]: found a.nii, expected a mapping of keys",
            "test.cfg:4: unknown key 'data.cases[1].imags'; did you mean 'data.cases[1].images'?",
            "test.cfg:4: missing key 'data.cases[1].images' (each case needs an id and its image files)",
        ])
    }

    func testAugmentationBoundsAndTypos() {
        let p = problems("""
        data: {dataset: d}
        training:
          augmentation:
            rotation: {range: [-200, 30]}
            blur: {probability: 1.5, sigmaa: [1, 2]}
            flip: {axes: [0, 3]}
            label_interpolation: linear
        """)
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:4: training.augmentation.rotation.range[0]: value -200 is out of range; allowed: a number in [-180, 180]",
            "test.cfg:5: training.augmentation.blur.probability: value 1.5 is out of range; allowed: a number in [0, 1]",
            "test.cfg:5: unknown key 'training.augmentation.blur.sigmaa'; allowed keys here: enabled, probability, range, probability_per_channel",
            "test.cfg:6: training.augmentation.flip.axes[1]: value 3 is out of range; allowed: an integer in [0, 2]",
            "test.cfg:7: training.augmentation.label_interpolation: found 'linear', allowed: one of nearest, linear_vote",
        ])
    }

    func testPatchSizeMustSuitNetworkDepth() {
        let p = problems("data: {dataset: d}\nmodel: {features: [8, 16, 32, 64]}\ntraining:\n  patch_size: [64, 60, 64]\n")
        XCTAssertEqual(p.map(\.description), ["test.cfg:4: training.patch_size: [64, 60, 64] must be divisible by 8 on every axis (the 4 levels of model.features halve it 3 times)"])
    }

    func testLabelsMustBeConsecutiveFromZero() {
        let p = problems("data:\n  dataset: d\n  labels: {background: 0, a: 2}\n")
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:3: data.labels: values [0, 2] must be 0, 1, 2, ... without gaps or repeats (background 0, at least 2 labels)"])
        let q = problems("data:\n  dataset: d\n  labels:\n    background: 0\n    a:\n    b: [1]\n")
        XCTAssertEqual(q.map(\.description), [
            "test.cfg:5: data.labels.a: found null, expected an integer ≥ 0",
            "test.cfg:6: data.labels.b: found a list, expected an integer ≥ 0",
        ])
    }

    func testMissingDataset() {
        let p = problems("data:\n  layout: nnunet\n")
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:2: missing key 'data.dataset' (layout 'nnunet' needs the dataset folder)",
        ])
        XCTAssertEqual(problems("model: {}\n").map(\.description), [
            "test.cfg: missing key 'data.dataset' (the dataset folder, or an explicit list under data.cases)",
        ])
    }

    func testDuplicateKeysRejected() {
        // Yams' parser rejects duplicate keys itself; the message must name the key.
        XCTAssertThrowsError(try decodeConfig("data:\n  layout: nnunet\n  layout: msd\n")) { e in
            XCTAssertTrue("\(e)".hasPrefix("test.cfg: not valid YAML:"), "\(e)")
            XCTAssertTrue("\(e)".contains("'layout'"), "\(e)")
            XCTAssertFalse("\(e)".contains("\n"), "one line")
        }
    }

    func testYAMLSyntaxError() {
        XCTAssertThrowsError(try decodeConfig("data: [unclosed\n")) { e in
            guard case .yamlSyntax(let path, _)? = e as? ConfigError else { return XCTFail("\(e)") }
            XCTAssertEqual(path, "test.cfg")
        }
    }

    func testUnreadableFile() {
        XCTAssertThrowsError(try Config.load(path: "/nonexistent/x.cfg")) { e in
            XCTAssertEqual("\(e)", "/nonexistent/x.cfg: cannot read config file: no such file")
        }
    }

    func testFolderAndBinaryFilesRejected() throws {
        XCTAssertThrowsError(try Config.load(path: NSTemporaryDirectory())) { e in
            XCTAssertTrue("\(e)".hasSuffix("cannot read config file: it is a folder"), "\(e)")
        }
        let path = NSTemporaryDirectory() + "dro-config-\(UUID().uuidString).cfg"
        try Data([0xff, 0xfe, 0x00, 0xc3]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try Config.load(path: path)) { e in
            XCTAssertEqual("\(e)", "\(path): cannot read config file: not UTF-8 text")
        }
    }

    func testEditDistance() {
        XCTAssertEqual(EditDistance.distance("kitten", "sitting"), 3)
        XCTAssertEqual(EditDistance.distance("", "abc"), 3)
        XCTAssertEqual(EditDistance.distance("lr", "lr"), 0)
        XCTAssertEqual(EditDistance.suggestion(for: "bta", among: ["beta", "kind"]), "beta")
        XCTAssertNil(EditDistance.suggestion(for: "zz", among: ["beta", "kind"]))
    }

    private func description(of e: ConfigError) -> (line: Int?, text: String) {
        switch e {
        case .unknownKey(_, let at, _, _), .wrongType(_, let at, _, _), .outOfRange(_, let at, _, _),
             .invalidChoice(_, let at, _, _, _), .missingKey(_, let at, _), .inconsistent(_, let at, _):
            return (at.line, e.description)
        default: return (nil, e.description)
        }
    }
}
