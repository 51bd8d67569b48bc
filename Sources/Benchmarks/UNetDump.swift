import Common
import Foundation
import Model
import Tensor

/// `dro-bench unet --dump DIR`: one forward/loss/backward of a small U-Net with everything written
/// as raw little-endian files for scripts/check_against_torch.py:
/// manifest.json (architecture, shapes, parameter names/shapes/offsets, loss), params.f32,
/// input.f32, labels.i32, logits.f32, grads.f32 (gradient arena, same layout as params),
/// activations.f32 (every conv block's output, see manifest "block_outputs").
public enum UNetDump {
    /// Small but non-trivial: 3 levels, 2 input channels, 3 classes, non-cubic patch, batch 2.
    /// W = 28: rows of 7, 4 (W = 14, a partial last tile: the AVX-512 row groups) and 2 F(4,3)
    /// tiles, of 14, 7 and 4 F(2,3) tiles.
    public static let options = UNet3DOptions(inChannels: 2, classes: 3, features: [8, 16, 32])
    public static let spatial = [16, 12, 28]
    public static let batch = 2
    /// `--anisotropic`: the same channels with thick slices on z — 3×3×1 kernels and 2×2×1
    /// pooling at the fine level, then 3×3×3 (kernel_sizes / pool_strides in x y z order), on a
    /// patch [D, H, W] = [6, 12, 20] (z divisible by 2, y and x by 4).
    public static var anisotropicOptions: UNet3DOptions {
        var o = options
        o.kernelSizes = [[3, 3, 1], [3, 3, 3], [3, 3, 3]]
        o.poolStrides = [[2, 2, 1], [2, 2, 2]]
        return o
    }
    public static let anisotropicSpatial = [6, 12, 20]

    public static func write(to dir: String, threads: Int, algorithm: ConvAlgorithm = .auto, seed: UInt64 = 7,
                             anisotropic: Bool = false, classes: Int? = nil, features: [Int]? = nil) throws -> String {
        // `classes`: another head width (`dro-bench unet --dump DIR --classes 9`: the fetal
        // network's 9 classes, the direct head's one-vector block); nil keeps 3. `features`:
        // other channels per level (`--features 16,256`: a 256-channel level, wide Winograd
        // layers); nil keeps 8, 16, 32.
        var options = anisotropic ? anisotropicOptions : options
        if let classes { options.classes = classes }
        if let features { options.features = features }
        let spatial = anisotropic ? anisotropicSpatial : spatial
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: seed)
        let net = try UNet3D(options: options, threads: threads, rng: &rng)
        net.convAlgorithm = algorithm
        let v = spatial.reduce(1, *)
        let x = (0..<(batch * options.inChannels * v)).map { _ in Float(RandomSample.normal(using: &rng)) }
        let y = (0..<(batch * v)).map { i -> Int32 in
            // Blob-like labels so Dice terms are not degenerate: class by position plus noise.
            let w = i % spatial[2]
            return Int32((w * options.classes / spatial[2] + Int.random(in: 0...1, using: &rng)) % options.classes)
        }
        let logits = try x.withUnsafeBufferPointer { try net.forward($0.baseAddress!, batch: batch, spatial: spatial) }
        var dl = [Float](repeating: 0, count: batch * options.classes * v)
        let out = try y.withUnsafeBufferPointer {
            try DiceCELoss().evaluate(logits: logits, labels: $0.baseAddress!, batch: batch, classes: options.classes,
                                      voxels: v, gradient: &dl, workspace: Workspace())
        }
        try dl.withUnsafeBufferPointer { try net.backward($0.baseAddress!) }
        func save(_ name: String, _ p: UnsafeRawPointer, _ bytes: Int) throws {
            try Data(bytes: p, count: bytes).write(to: URL(fileURLWithPath: dir).appendingPathComponent(name))
        }
        try net.saveParameters(to: dir + "/params.f32")
        try x.withUnsafeBytes { try save("input.f32", $0.baseAddress!, $0.count) }
        try y.withUnsafeBytes { try save("labels.i32", $0.baseAddress!, $0.count) }
        try save("logits.f32", logits, batch * options.classes * v * 4)
        try save("grads.f32", net.arena.gradients.pointer, net.parameterCount * 4)
        // Block outputs: the checker takes the LeakyReLU branch from their sign, so a
        // pre-activation within rounding of 0 cannot flip one voxel's gradient between the two.
        var blocks: [[String: Any]] = [], flat: [Float] = []
        for (name, values) in net.cachedBlockOutputs() {
            blocks.append(["name": name, "offset": flat.count, "count": values.count])
            flat += values
        }
        try flat.withUnsafeBytes { try save("activations.f32", $0.baseAddress!, $0.count) }
        var params: [[String: Any]] = []
        for (i, spec) in net.arena.layout.specs.enumerated() {
            params.append(["name": spec.name, "shape": spec.shape, "offset": net.arena.layout.offsets[i]])
        }
        let manifest: [String: Any] = [
            "in_channels": options.inChannels, "classes": options.classes, "features": options.features,
            "convs_per_level": options.convsPerLevel, "norm_eps": Double(options.normEps),
            "leaky_slope": Double(options.leakySlope), "batch": batch, "spatial": spatial,
            "kernel_sizes": options.levelKernels, "pool_strides": options.levelStrides,
            "smooth": DiceCELoss.defaultSmooth, "loss": out.loss, "per_sample_loss": out.perSample,
            "per_sample_dice": out.perSampleDice, "parameters": params, "block_outputs": blocks,
        ]
        let data = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: dir).appendingPathComponent("manifest.json"))
        return "wrote \(dir): \(net.parameterCount) parameters, convs \(algorithm.rawValue), loss \(out.loss)"
    }
}
