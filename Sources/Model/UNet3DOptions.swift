import Foundation
import Tensor

/// Architecture of the nnU-Net-style 3D U-Net (docs/method.md §4). The Config module maps YAML onto it.
public struct UNet3DOptions: Equatable, Sendable {
    public var inChannels: Int
    public var classes: Int
    /// Channels per resolution level, finest first; the number of levels is `features.count`.
    public var features: [Int]
    /// Conv–norm–LeakyReLU blocks per level (encoder and decoder).
    public var convsPerLevel: Int
    public var normEps: Float
    public var leakySlope: Float
    /// nnU-Net's deep supervision: extra 1×1×1 heads on the decoder levels below full
    /// resolution, trained with `deepSupervisionWeights`; inference uses the full-resolution head.
    public var deepSupervision = false

    /// The bench network of docs/method.md §4: 1 → 4 classes, [16, 32, 64, 128], 2 convs per level,
    /// InstanceNorm eps 1e-5, LeakyReLU 0.01.
    public init(inChannels: Int = 1, classes: Int = 4, features: [Int] = [16, 32, 64, 128],
                convsPerLevel: Int = 2, normEps: Float = InstanceNorm3d.defaultEps,
                leakySlope: Float = LeakyReLU.defaultSlope) {
        self.inChannels = inChannels; self.classes = classes; self.features = features
        self.convsPerLevel = convsPerLevel; self.normEps = normEps; self.leakySlope = leakySlope
    }

    public var levels: Int { features.count }

    /// Decoder levels with an output (0 = full resolution), finest first.
    public var supervisedLevels: [Int] { deepSupervision ? Array(0..<max(1, levels - 1)) : [0] }

    /// nnU-Net v2's loss weights of `supervisedLevels`: w_k ∝ 1/2^k, the lowest resolution's set
    /// to 0, normalised to sum 1 (nnUNetTrainer._build_loss). One output: [1].
    public var deepSupervisionWeights: [Double] {
        let count = supervisedLevels.count
        guard count > 1 else { return [1] }
        var w = (0..<count).map { 1 / pow(2, Double($0)) }
        w[count - 1] = 0
        let sum = w.reduce(0, +)
        return w.map { $0 / sum }
    }

    /// Each spatial size must be divisible by this (one halving per level below the first).
    public var sizeDivisor: Int { 1 << (levels - 1) }

    public func validate() throws {
        if inChannels < 1 { throw UNet3DError.option(name: "inChannels", value: "\(inChannels)", allowed: "≥ 1") }
        if classes < 2 { throw UNet3DError.option(name: "classes", value: "\(classes)", allowed: "≥ 2 (background + foreground)") }
        if features.isEmpty || features.contains(where: { $0 < 1 }) {
            throw UNet3DError.option(name: "features", value: "\(features)", allowed: "one or more positive channel counts")
        }
        if convsPerLevel < 1 { throw UNet3DError.option(name: "convsPerLevel", value: "\(convsPerLevel)", allowed: "≥ 1") }
        if !(normEps > 0) { throw UNet3DError.option(name: "normEps", value: "\(normEps)", allowed: "> 0") }
        if !(leakySlope > 0 && leakySlope < 1) {
            throw UNet3DError.option(name: "leakySlope", value: "\(leakySlope)", allowed: "in (0, 1)")
        }
    }
}

public enum UNet3DError: Error, CustomStringConvertible, Equatable {
    case option(name: String, value: String, allowed: String)
    case shape(what: String, found: String, allowed: String)

    public var description: String {
        switch self {
        case .option(let n, let v, let a): return "U-Net option \(n) = \(v); allowed: \(a)"
        case .shape(let w, let f, let a): return "U-Net \(w) = \(f); allowed: \(a)"
        }
    }
}
