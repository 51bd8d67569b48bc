import Config
import Foundation
import XCTest
@testable import Model

/// The "network" and "labels" checkpoint sections are typed; checkpoints written before (by
/// JSONSerialization of dictionaries, same keys) must still read, and new ones keep the keys.
final class CheckpointSectionsTests: XCTestCase {
    /// A network section exactly as the old writer produced it (sorted keys, pretty-printed,
    /// Float eps widened to Double).
    let oldNetwork = """
    {
      "channels" : [
        "T2w"
      ],
      "classes" : 3,
      "convs_per_level" : 2,
      "deep_supervision" : false,
      "features" : [
        4,
        8
      ],
      "in_channels" : 1,
      "leaky_slope" : 0.0099999997764825821,
      "norm_eps" : 9.9999997473787516e-06,
      "patch_size" : [
        8,
        8,
        16
      ]
    }
    """
    let oldLabels = "{\n  \"background\" : 0,\n  \"csf\" : 1,\n  \"wm\" : 2\n}"

    func testOldSectionsDecode() throws {
        let net = try JSONDecoder().decode(NetworkSection.self, from: Data(oldNetwork.utf8))
        var expected = UNet3DOptions(inChannels: 1, classes: 3, features: [4, 8])
        expected.deepSupervision = false
        XCTAssertEqual(net.options, expected)
        // Written before kernel_sizes / pool_strides existed: the isotropic network.
        XCTAssertNil(net.kernelSizes); XCTAssertNil(net.poolStrides)
        XCTAssertEqual(net.options.levelKernels, [[3, 3, 3], [3, 3, 3]])
        XCTAssertEqual(net.options.levelStrides, [[2, 2, 2]])
        XCTAssertEqual(net.channels, ["T2w"])
        XCTAssertEqual(net.patchSize, [8, 8, 16])
        let labels = try JSONDecoder().decode(LabelsSection.self, from: Data(oldLabels.utf8)).labels
        XCTAssertEqual(labels, [LabelDefinition(name: "background", value: 0), LabelDefinition(name: "csf", value: 1),
                                LabelDefinition(name: "wm", value: 2)])
    }

    /// Written before `deep_supervision` existed: read as false.
    func testSectionWithoutDeepSupervisionDecodes() throws {
        let older = oldNetwork.replacingOccurrences(of: "  \"deep_supervision\" : false,\n", with: "")
        XCTAssertFalse(older.contains("deep_supervision"))
        XCTAssertFalse(try JSONDecoder().decode(NetworkSection.self, from: Data(older.utf8)).options.deepSupervision)
    }

    /// The old writer's output for the same network, produced here with the old code path,
    /// decodes to what the new writer encodes; and the new bytes have the old keys and values.
    func testNewWriterKeepsTheOldKeys() throws {
        var options = UNet3DOptions(inChannels: 2, classes: 4, features: [4, 8, 16])
        options.deepSupervision = true
        let old: [String: Any] = [
            "in_channels": options.inChannels, "classes": options.classes, "features": options.features,
            "convs_per_level": options.convsPerLevel, "norm_eps": Double(options.normEps),
            "leaky_slope": Double(options.leakySlope), "channels": ["T1", "T2"],
            "patch_size": [16, 16, 8], "deep_supervision": options.deepSupervision,
        ]
        let oldBytes = try JSONSerialization.data(withJSONObject: old, options: [.sortedKeys, .prettyPrinted])
        let section = NetworkSection(network: options, channels: ["T1", "T2"], patchSize: [16, 16, 8])
        XCTAssertEqual(try JSONDecoder().decode(NetworkSection.self, from: oldBytes).options, section.options)
        let newBytes = try Checkpoint.json(section)
        let back = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(newBytes)) as? [String: Any])
        // The old keys, plus the kernels and strides (always written, resolved).
        XCTAssertEqual(Set(back.keys), Set(old.keys).union(["kernel_sizes", "pool_strides"]))
        XCTAssertEqual(back["kernel_sizes"] as? [[Int]], [[3, 3, 3], [3, 3, 3], [3, 3, 3]])
        XCTAssertEqual(back["pool_strides"] as? [[Int]], [[2, 2, 2], [2, 2, 2]])
        XCTAssertEqual(back["features"] as? [Int], [4, 8, 16])
        XCTAssertEqual(back["deep_supervision"] as? Bool, true)
        XCTAssertEqual(try JSONDecoder().decode(NetworkSection.self, from: Data(newBytes)).options, options)

        let labels = [LabelDefinition(name: "wm", value: 2), LabelDefinition(name: "background", value: 0),
                      LabelDefinition(name: "csf", value: 1)]
        let labelBytes = try Checkpoint.json(LabelsSection(labels))
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(labelBytes)) as? [String: Int],
                       ["background": 0, "csf": 1, "wm": 2])
    }

    /// An anisotropic network's kernels and strides survive the section (x y z order kept).
    func testKernelsAndStridesRoundTrip() throws {
        var options = UNet3DOptions(inChannels: 1, classes: 2, features: [4, 8, 16])
        options.kernelSizes = [[3, 3, 1], [3, 3, 3], [3, 3, 3]]
        options.poolStrides = [[2, 2, 1], [2, 2, 2]]
        let bytes = try Checkpoint.json(NetworkSection(network: options, channels: ["T2"], patchSize: [16, 16, 4]))
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.contains("\"kernel_sizes\""), text)
        let back = try JSONDecoder().decode(NetworkSection.self, from: Data(bytes))
        XCTAssertEqual(back.options, options)
        XCTAssertEqual(back.kernelSizes, [[3, 3, 1], [3, 3, 3], [3, 3, 3]])
        // A wrong type is refused naming the key.
        var checkpoint = Checkpoint()
        checkpoint.set(NetworkSection.name, Array(text.replacingOccurrences(of: "\"kernel_sizes\" : [", with: "\"kernel_sizes\" : [\"x\", ").utf8))
        XCTAssertThrowsError(try checkpoint.decode(NetworkSection.self, section: NetworkSection.name, path: "m.ckpt",
                                                   expected: NetworkSection.expected)) { error in
            XCTAssertEqual(error as? CheckpointError, .badSection(path: "m.ckpt", name: "network",
                                                                  reason: "\"kernel_sizes\" is not a list of [kx, ky, kz] lists"))
        }
    }

    /// A bad section is refused naming the key and what it must hold.
    func testBadSectionNamesTheKey() throws {
        var checkpoint = Checkpoint()
        checkpoint.set(NetworkSection.name, Array(oldNetwork.replacingOccurrences(of: "\"classes\" : 3", with: "\"classes\" : \"three\"").utf8))
        checkpoint.set(LabelsSection.name, Array("[1, 2]".utf8))
        XCTAssertThrowsError(try checkpoint.decode(NetworkSection.self, section: NetworkSection.name, path: "m.ckpt",
                                                   expected: NetworkSection.expected)) { error in
            XCTAssertEqual(error as? CheckpointError,
                           .badSection(path: "m.ckpt", name: "network", reason: "\"classes\" is not an integer"))
        }
        XCTAssertThrowsError(try checkpoint.decode(LabelsSection.self, section: LabelsSection.name, path: "m.ckpt")) { error in
            XCTAssertEqual(error as? CheckpointError, .badSection(path: "m.ckpt", name: "labels", reason: "not a JSON object"))
        }
    }
}
