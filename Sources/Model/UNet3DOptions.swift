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
    /// Convolution kernel of each level, finest first, as [kx, ky, kz] in NIfTI axis order (x, y,
    /// z = the tensor axes W, H, D); each size odd. nil: 3×3×3 at every level. Both convs of a level
    /// use it (padding k/2 per axis), and so does the strided first conv of levels l > 0.
    public var kernelSizes: [[Int]]?
    /// Stride of each downsampling, level l → l + 1 for l = 0..<levels−1, as [sx, sy, sz], each 1
    /// or 2. nil: 2 on every axis. The decoder's transposed conv back to level l has kernel =
    /// stride = `poolStrides[l]`.
    public var poolStrides: [[Int]]?

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

    /// Kernel of every level as [kx, ky, kz] (`kernelSizes`, or 3×3×3).
    public var levelKernels: [[Int]] { kernelSizes ?? Array(repeating: [3, 3, 3], count: levels) }
    /// Stride of every downsampling as [sx, sy, sz] (`poolStrides`, or 2×2×2).
    public var levelStrides: [[Int]] { poolStrides ?? Array(repeating: [2, 2, 2], count: max(0, levels - 1)) }

    /// How much level `level` is downsampled against level 0 per axis (x, y, z): the product of
    /// the strides before it.
    public func levelScale(_ level: Int) -> [Int] {
        levelStrides.prefix(level).reduce([1, 1, 1]) { acc, s in zip(acc, s).map { $0 * $1 } }
    }

    /// Each spatial size (x, y, z) must be divisible by this: the product of that axis' strides
    /// (2^(levels−1) on every axis for the default strides).
    public var sizeDivisors: [Int] { levelScale(levels - 1) }

    /// Tensor-order (D, H, W) versions of the above, for the layers.
    func kernelDHW(_ level: Int) -> [Int] { Array(levelKernels[level].reversed()) }
    func strideDHW(_ transition: Int) -> [Int] { Array(levelStrides[transition].reversed()) }
    /// Spatial size [D, H, W] of level `level` for a level-0 size [D, H, W].
    func levelSpatial(_ spatial: [Int], _ level: Int) -> [Int] {
        zip(spatial, levelScale(level).reversed()).map { $0 / $1 }
    }
    /// True for 3×3×3 kernels and 2×2×2 strides everywhere (the isotropic nnU-Net network).
    public var isIsotropic: Bool {
        levelKernels.allSatisfy { $0 == [3, 3, 3] } && levelStrides.allSatisfy { $0 == [2, 2, 2] }
    }

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
        if let k = kernelSizes {
            if k.count != levels {
                throw UNet3DError.option(name: "kernelSizes", value: "\(k.count) entries",
                                         allowed: "one [kx, ky, kz] per level (\(levels) levels)")
            }
            if let bad = k.first(where: { $0.count != 3 || $0.contains { $0 < 1 || $0 % 2 == 0 } }) {
                throw UNet3DError.option(name: "kernelSizes", value: "\(bad)", allowed: "3 odd sizes ≥ 1 per level")
            }
        }
        if let s = poolStrides {
            if s.count != levels - 1 {
                throw UNet3DError.option(name: "poolStrides", value: "\(s.count) entries",
                                         allowed: "one [sx, sy, sz] per downsampling (\(levels - 1) for \(levels) levels)")
            }
            if let bad = s.first(where: { $0.count != 3 || $0.contains { $0 != 1 && $0 != 2 } }) {
                throw UNet3DError.option(name: "poolStrides", value: "\(bad)", allowed: "3 strides per downsampling, each 1 or 2")
            }
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
