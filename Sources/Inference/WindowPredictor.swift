import Model
import Tensor

/// Logits of a batch of windows: the network's memory-lean `predict`, optionally averaged over
/// the 8 mirrorings of the window (test-time augmentation as nnU-Net's `use_mirroring`: the
/// logits of flip(net(flip(x))) for every subset of the axes d, h, w, averaged).
///
/// Memory: the network's inference activations for one batch plus, with TTA, one flipped
/// input batch and one output batch.
final class WindowPredictor {
    let network: UNet3D
    let patch: [Int]
    let tta: Bool
    private var flippedInput: [Float] = []
    private var flippedOutput: [Float] = []

    /// Every subset of the axes (d, h, w); the identity first.
    static let mirrorings: [[Bool]] = (0..<8).map { m in [m & 4 != 0, m & 2 != 0, m & 1 != 0] }

    init(network: UNet3D, patch: [Int], tta: Bool) {
        self.network = network; self.patch = patch; self.tta = tta
    }

    /// windows [count, inChannels, patch] → logits [count, classes, patch].
    func predict(_ windows: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) throws {
        guard tta else { return try network.predict(windows, batch: count, spatial: patch, into: out) }
        let pv = patch.reduce(1, *), cin = network.options.inChannels, classes = network.options.classes
        let inCount = count * cin * pv, outCount = count * classes * pv
        if flippedInput.count < inCount { flippedInput = [Float](repeating: 0, count: inCount) }
        if flippedOutput.count < outCount { flippedOutput = [Float](repeating: 0, count: outCount) }
        try network.predict(windows, batch: count, spatial: patch, into: out)
        for axes in Self.mirrorings.dropFirst() {
            try flippedInput.withUnsafeMutableBufferPointer { input in
                try flippedOutput.withUnsafeMutableBufferPointer { output in
                    Self.flip(windows, into: input.baseAddress!, planes: count * cin, shape: patch, axes: axes)
                    try network.predict(input.baseAddress!, batch: count, spatial: patch, into: output.baseAddress!)
                    // Logits of the mirrored window, mirrored back onto the window.
                    Self.flipAdd(output.baseAddress!, into: out, planes: count * classes, shape: patch, axes: axes)
                }
            }
        }
        let scale = 1 / Float(Self.mirrorings.count)
        for i in 0..<outCount { out[i] *= scale }
    }

    /// dst = src mirrored along the axes marked true, for `planes` consecutive D×H×W volumes.
    static func flip(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, planes: Int,
                     shape: [Int], axes: [Bool]) {
        mirror(src, dst, planes: planes, shape: shape, axes: axes) { $0 = $1 }
    }

    /// dst += src mirrored along the axes marked true (a flip is its own inverse).
    static func flipAdd(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, planes: Int,
                        shape: [Int], axes: [Bool]) {
        mirror(src, dst, planes: planes, shape: shape, axes: axes) { $0 += $1 }
    }

    @inline(__always)
    private static func mirror(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, planes: Int,
                               shape: [Int], axes: [Bool], _ combine: (inout Float, Float) -> Void) {
        let (D, H, W) = (shape[0], shape[1], shape[2]), volume = D * H * W
        for p in 0..<planes {
            let s = src + p * volume, d = dst + p * volume
            for z in 0..<D {
                let sz = axes[0] ? D - 1 - z : z
                for y in 0..<H {
                    let sy = axes[1] ? H - 1 - y : y
                    let from = s + (sz * H + sy) * W, to = d + (z * H + y) * W
                    if axes[2] {
                        for x in 0..<W { combine(&to[x], from[W - 1 - x]) }
                    } else {
                        for x in 0..<W { combine(&to[x], from[x]) }
                    }
                }
            }
        }
    }
}
