import XCTest
@testable import Config

final class ConfigOverrideTests: XCTestCase {
    func testOverridesReplaceAndCreateKeys() throws {
        let c = try decodeConfig("data: {dataset: d}\ntraining:\n  lr: 0.1\n",
                                 overrides: ["training.lr=0.001", "training.patch_size=[32, 32, 32]",
                                             "sampler.kind=uniform", "model.features=[8,16]",
                                             "training.augmentation.flip.enabled=false"])
        XCTAssertEqual(c.training.lr, 0.001)
        XCTAssertEqual(c.training.patchSize, [32, 32, 32])
        XCTAssertEqual(c.sampler.kind, .uniform)
        XCTAssertEqual(c.model.features, [8, 16])
        XCTAssertFalse(c.training.augmentation.mirrorEnabled)
    }

    func testOverrideOnEmptyDocumentAndNullValue() throws {
        let c = try decodeConfig("", overrides: ["data.dataset=x", "training.grad_clip="])
        XCTAssertEqual(c.data.dataset, "/work/cwd/x", "override paths resolve against the working directory")
        XCTAssertNil(c.training.gradClip)
    }

    func testOverrideErrorsNameTheOverride() {
        let p = problems(minimalData, overrides: ["training.lr=-1", "training.lrr=2"])
        XCTAssertEqual(p.map(\.description), [
            "--set training.lr=-1: training.lr: value -1 is out of range; allowed: a number > 0",
            "--set training.lrr=2: unknown key 'training.lrr'; did you mean 'training.lr'?",
        ])
    }

    func testOverrideCreatingUnknownSectionNamesTheOverride() {
        let p = problems(minimalData, overrides: ["trainig.lr=0.1"])
        XCTAssertEqual(p.map(\.description), ["--set trainig.lr=0.1: unknown key 'trainig'; did you mean 'training'?"])
    }

    func testMalformedOverrides() {
        for (text, reason) in [("training.lr", "expected key.path=value, e.g. training.lr=0.001"),
                               ("training..lr=1", "the key path 'training..lr' has an empty part; expected e.g. training.lr"),
                               ("training.lr.x=1", "'training.lr' is 0.1, not a section with keys")] {
            XCTAssertThrowsError(try decodeConfig("data: {dataset: d}\ntraining: {lr: 0.1}\n", overrides: [text])) { e in
                XCTAssertEqual("\(e)", "--set \(text): \(reason)")
            }
        }
    }
}
