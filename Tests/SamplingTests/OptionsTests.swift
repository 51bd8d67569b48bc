import XCTest
@testable import Sampling

final class OptionsTests: XCTestCase {
    /// Defaults are the authors' reference values (docs/method.md §2).
    func testDefaults() throws {
        let o = HardnessSamplerOptions()
        XCTAssertEqual(o.beta, 100)
        XCTAssertEqual(o.momentum, 0)
        XCTAssertEqual(o.initLoss, 2)
        XCTAssertFalse(o.importanceSampling)
        XCTAssertEqual(o.clip, ClipRange(lower: 0.1, upper: 10))
        XCTAssertEqual(o.floor, 1e-4)
        XCTAssertNoThrow(try o.validate())
        XCTAssertEqual(SamplingUnit(rawValue: "case"), .wholeCase)
        XCTAssertEqual(SamplingUnit(rawValue: "patch"), .patch)
    }

    /// Each invalid value is refused with a message naming its YAML key.
    func testValidationNamesTheOption() {
        let cases: [(HardnessSamplerOptions, String)] = [
            (HardnessSamplerOptions(beta: -1), "sampler.beta = -1.0 is invalid"),
            (HardnessSamplerOptions(beta: .infinity), "sampler.beta = inf"),
            (HardnessSamplerOptions(beta: .nan), "sampler.beta = nan"),
            (HardnessSamplerOptions(momentum: 1), "sampler.momentum = 1.0 is invalid: allowed a number in [0, 1)"),
            (HardnessSamplerOptions(momentum: -0.1), "sampler.momentum"),
            (HardnessSamplerOptions(initLoss: .nan), "sampler.init_loss"),
            (HardnessSamplerOptions(clip: ClipRange(lower: 0, upper: 10)), "sampler.clip = [0.0, 10.0]"),
            (HardnessSamplerOptions(clip: ClipRange(lower: 5, upper: 1)), "sampler.clip"),
            (HardnessSamplerOptions(floor: 2), "sampler.floor = 2.0"),
            (HardnessSamplerOptions(floor: -1e-4), "sampler.floor"),
        ]
        for (o, message) in cases {
            XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".hasPrefix(message), "\($0)") }
            XCTAssertThrowsError(try HardnessWeightedSampler(count: 3, options: o, generator: SeededGenerator(seed: 1)))
        }
        XCTAssertNoThrow(try HardnessSamplerOptions(beta: 0, momentum: 0.99, floor: 0).validate())
    }
}
