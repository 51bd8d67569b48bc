import XCTest
@testable import Evaluation

/// The one Dice function (dro-eval's reports and validation during training) and its empty-mask
/// policy: one mask empty → 0, both empty → nan.
final class DiceTests: XCTestCase {
    /// Label 1 in 3 predicted and 2 reference voxels, 1 shared → 2·1/(3+2).
    func testDiceByHand() {
        let prediction: [UInt8] = [1, 1, 1, 0, 2]
        let reference: [UInt8] = [1, 0, 0, 1, 2]
        XCTAssertEqual(Dice.score(prediction, reference, label: 1), 0.4)
        XCTAssertEqual(Dice.score(prediction, reference, label: 2), 1)
    }

    func testEmptyMaskPolicy() {
        XCTAssertTrue(Dice.score([UInt8]([1, 1, 1, 0, 2]), [1, 0, 0, 1, 2], label: 3).isNaN, "both empty")
        XCTAssertEqual(Dice.score([Int32]([0, 0]), [3, 0], label: 3), 0, "prediction empty")
        XCTAssertEqual(Dice.score([Int32]([3, 0]), [0, 0], label: 3), 0, "reference empty")
        XCTAssertTrue(Dice.score(overlap: 0, reference: 0, prediction: 0).isNaN)
    }
}
