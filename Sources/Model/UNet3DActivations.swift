import Tensor

/// Where every intermediate of one forward pass lives, for a given batch and patch size.
///
/// Training: every conv output z, activation a and concat gets its own buffer (kept for the
/// backward pass), plus gradient scratch. Inference: z and a share a buffer (norm runs in place),
/// consecutive blocks ping-pong between two buffers, and only the skips and one concat buffer are
/// kept — a fraction of the training memory.
final class UNet3DActivations {
    struct Block {
        var z: UnsafeMutablePointer<Float>      // conv output (pre-norm)
        var a: UnsafeMutablePointer<Float>      // LeakyReLU(norm(z))
        var mean: UnsafeMutablePointer<Float>   // [N·C]
        var rstd: UnsafeMutablePointer<Float>
    }

    let batch: Int
    let spatial: [Int]          // [D, H, W] at level 0
    let training: Bool
    var input: UnsafeMutablePointer<Float>
    var encoder: [[Block]] = []
    var concat: [UnsafeMutablePointer<Float>] = []   // [level] [N, 2f, S_l]
    var decoder: [[Block]] = []
    var logits: UnsafeMutablePointer<Float>
    /// Deep-supervision logits of decoder levels 1..<L−1 (index l − 1), training only.
    var auxLogits: [UnsafeMutablePointer<Float>] = []
    /// Gradient scratch (training only): two ping-pong buffers and one skip gradient per level.
    var gradA: UnsafeMutablePointer<Float>?
    var gradB: UnsafeMutablePointer<Float>?
    var gradSkip: [UnsafeMutablePointer<Float>] = []
    private var owned: [FloatBuffer] = []

    /// Total Floats held.
    var floatCount: Int { owned.reduce(0) { $0 + $1.count } }


    /// The Floats `init` allocates for these arguments, computed without allocating (the
    /// planner's memory check; `UNet3DActivationsTests` keeps the two equal).
    static func floatCount(layout: UNet3DLayout, options o: UNet3DOptions, batch n: Int, spatial: [Int],
                           training: Bool) -> Int {
        let f = o.features, levels = f.count
        let vox = (0..<levels).map { o.levelSpatial(spatial, $0).reduce(1, *) }
        var total = n * o.inChannels * vox[0] + n * o.classes * vox[0]
        if training {
            for l in 0..<levels { total += layout.encoder[l].count * (2 * n * f[l] * vox[l] + 2 * n * f[l]) }
            for l in 0..<(levels - 1) {
                total += n * 2 * f[l] * vox[l] + layout.decoder[l].count * (2 * n * f[l] * vox[l] + 2 * n * f[l])
                    + n * f[l] * vox[l]
            }
            for h in layout.auxHeads.indices { total += n * o.classes * vox[h + 1] }
            total += 2 * ((0..<levels).map { n * 2 * f[$0] * vox[$0] }.max() ?? 0)
        } else {
            total += 2 * ((0..<levels).map { n * f[$0] * vox[$0] }.max() ?? 0) + 2 * n * (f.max() ?? 0)
            total += (0..<max(1, levels - 1)).map { n * 2 * f[$0] * vox[$0] }.max() ?? 0
            for l in 0..<(levels - 1) { total += n * f[l] * vox[l] }   // the skips
        }
        return total
    }

    init(layout: UNet3DLayout, options o: UNet3DOptions, batch n: Int, spatial: [Int], training: Bool) {
        self.batch = n; self.spatial = spatial; self.training = training
        var owned: [FloatBuffer] = []
        func alloc(_ count: Int) -> UnsafeMutablePointer<Float> {
            let b = FloatBuffer(count: count); owned.append(b); return b.pointer
        }
        let f = o.features, levels = f.count
        let vox = (0..<levels).map { o.levelSpatial(spatial, $0).reduce(1, *) }
        input = alloc(n * o.inChannels * vox[0])
        logits = alloc(n * o.classes * vox[0])
        if training {
            for l in 0..<levels {
                encoder.append(layout.encoder[l].map { _ in
                    Block(z: alloc(n * f[l] * vox[l]), a: alloc(n * f[l] * vox[l]), mean: alloc(n * f[l]), rstd: alloc(n * f[l]))
                })
            }
            for l in 0..<(levels - 1) {
                concat.append(alloc(n * 2 * f[l] * vox[l]))
                decoder.append(layout.decoder[l].map { _ in
                    Block(z: alloc(n * f[l] * vox[l]), a: alloc(n * f[l] * vox[l]), mean: alloc(n * f[l]), rstd: alloc(n * f[l]))
                })
                gradSkip.append(alloc(n * f[l] * vox[l]))
            }
            for h in layout.auxHeads.indices { auxLogits.append(alloc(n * o.classes * vox[h + 1])) }
            let largest = (0..<levels).map { n * 2 * f[$0] * vox[$0] }.max() ?? 0
            gradA = alloc(largest); gradB = alloc(largest)
        } else {
            // Ping-pong pair for everything but skips and concat; stats scratch shared.
            let largest = (0..<levels).map { n * f[$0] * vox[$0] }.max() ?? 0
            let ping = alloc(largest), pong = alloc(largest)
            let maxC = f.max() ?? 0
            let mean = alloc(n * maxC), rstd = alloc(n * maxC)
            let cat = alloc((0..<max(1, levels - 1)).map { n * 2 * f[$0] * vox[$0] }.max() ?? 0)
            var toggle = false
            func next() -> UnsafeMutablePointer<Float> { toggle.toggle(); return toggle ? ping : pong }
            for l in 0..<levels {
                var blocks: [Block] = []
                for j in 0..<layout.encoder[l].count {
                    let isSkip = l < levels - 1 && j == layout.encoder[l].count - 1
                    let buf = isSkip ? alloc(n * f[l] * vox[l]) : next()
                    blocks.append(Block(z: buf, a: buf, mean: mean, rstd: rstd))
                }
                encoder.append(blocks)
            }
            for l in 0..<(levels - 1) {
                concat.append(cat)
                decoder.append(layout.decoder[l].map { _ in let b = next(); return Block(z: b, a: b, mean: mean, rstd: rstd) })
            }
        }
        self.owned = owned
    }
}

extension UNet3D {
    /// Bytes one training process of this network holds at `batch` samples of `spatial`
    /// ([D, H, W]) voxels, without building it: the activations and gradient scratch exactly as
    /// `UNet3DActivations` allocates them, the parameters with their gradients and optimizer
    /// state (four copies: AdamW's two moments), and 10 % on top for the convolutions' scratch
    /// (Winograd chunks, im2col tiles: ~4 % on the fetal network, docs/performance.md).
    /// `dro-plan` skips candidates whose estimate exceeds the machine's memory.
    public static func trainingMemoryEstimate(options: UNet3DOptions, batch: Int, spatial: [Int]) throws -> Int {
        let parameters = try options.checkedParameterCount()
        let activations = UNet3DActivations.floatCount(layout: UNet3DLayout(options), options: options, batch: batch,
                                                       spatial: spatial, training: true)
        return Int(Double(4 * activations) * 1.1) + 4 * 4 * parameters
    }
}
