import Tensor

/// Where every intermediate of one forward pass lives, for a given batch and patch size.
///
/// Training keeps, per conv block, the conv output z and the norm statistics — not the activation
/// a = LeakyReLU(norm(z)): the backward recomputes a from z (`InstanceNormLeakyReLU.apply`, bit for
/// bit the forward's a) where it needs it, i.e. as the next layer's input for its weight gradient,
/// and takes the leaky ReLU mask from z too. During the forward every a goes to one scratch
/// buffer (`scratch`), read by the next layer and then overwritten — except each encoder level's
/// last a (the skip), which the norm writes straight into the second half of that level's concat
/// buffer [up, skip]. Gradients use three slots of N·max(f·V) Floats: `scratch` and the two
/// halves of `gradConcat`, which as a whole holds the concat gradient (2f·V); after a decoder
/// level's first conv the concat buffer is dead and holds that level's skip gradient (first
/// N·f·V Floats) and the transposed conv's output gradient (second half).
///
/// Inference: z and a share a buffer (norm runs in place), consecutive blocks ping-pong between
/// two buffers, and only the skips and one concat buffer are kept — a fraction of the training
/// memory.
final class UNet3DActivations {
    struct Block {
        var z: UnsafeMutablePointer<Float>      // conv output (pre-norm)
        /// Where the forward writes a = LeakyReLU(norm(z)) (training: the shared scratch, or the
        /// concat buffer's second half for a skip; inference: z itself).
        var a: UnsafeMutablePointer<Float>
        /// Sample stride of `a` when it is not N contiguous [C, V] blocks (a skip in a concat buffer).
        var aSampleStride: Int?
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
    /// Training only: N·max_l(f_l·V_l) Floats — the forward's activations, then a gradient slot.
    var scratch: UnsafeMutablePointer<Float>?
    /// Training only: 2·`slotCount` Floats — the concat gradient, or two gradient slots.
    var gradConcat: UnsafeMutablePointer<Float>?
    /// Floats of one gradient slot (N·max_l(f_l·V_l)).
    var slotCount = 0
    /// Training: set by the forward, cleared by the backward — whether `scratch` still holds the
    /// head's input (the last block's activation, the forward's last write there), so the first
    /// backward after a forward reads it there instead of recomputing it.
    var headInputKept = false
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
            // Per block z, mean, rstd; one concat buffer per decoder level; scratch + 2 gradient slots.
            for l in 0..<levels { total += layout.encoder[l].count * (n * f[l] * vox[l] + 2 * n * f[l]) }
            for l in 0..<(levels - 1) {
                total += n * 2 * f[l] * vox[l] + layout.decoder[l].count * (n * f[l] * vox[l] + 2 * n * f[l])
            }
            for h in layout.auxHeads.indices { total += n * o.classes * vox[h + 1] }
            total += 3 * ((0..<levels).map { n * f[$0] * vox[$0] }.max() ?? 0)
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
            slotCount = (0..<levels).map { n * f[$0] * vox[$0] }.max() ?? 0
            let shared = alloc(slotCount)
            scratch = shared
            gradConcat = alloc(2 * slotCount)
            for l in 0..<(levels - 1) { concat.append(alloc(n * 2 * f[l] * vox[l])) }
            func block(_ l: Int, skip: Bool) -> Block {
                Block(z: alloc(n * f[l] * vox[l]), a: skip ? concat[l] + f[l] * vox[l] : shared,
                      aSampleStride: skip ? 2 * f[l] * vox[l] : nil, mean: alloc(n * f[l]), rstd: alloc(n * f[l]))
            }
            for l in 0..<levels {
                let count = layout.encoder[l].count
                encoder.append((0..<count).map { block(l, skip: l < levels - 1 && $0 == count - 1) })
            }
            for l in 0..<(levels - 1) { decoder.append(layout.decoder[l].map { _ in block(l, skip: false) }) }
            for h in layout.auxHeads.indices { auxLogits.append(alloc(n * o.classes * vox[h + 1])) }
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
                    blocks.append(Block(z: buf, a: buf, aSampleStride: nil, mean: mean, rstd: rstd))
                }
                encoder.append(blocks)
            }
            for l in 0..<(levels - 1) {
                concat.append(cat)
                decoder.append(layout.decoder[l].map { _ in let b = next(); return Block(z: b, a: b, aSampleStride: nil, mean: mean, rstd: rstd) })
            }
        }
        self.owned = owned
    }
}

extension UNet3D {
    /// Bytes one training process of this network holds at `batch` samples of `spatial`
    /// ([D, H, W]) voxels, without building it: the activations and gradient scratch exactly as
    /// `UNet3DActivations` allocates them, the parameters with their gradients and optimizer
    /// state (four copies: AdamW's two moments), and the convolutions' scratch: 10 % of the
    /// activations (scratch that grows with the volume; the polyphase stride-2 layers' is bounded
    /// by their depth slabs, `ConvPolyphase.slabBudgetBytes`) plus `fixedScratchBytes` (Winograd chunk buffers, im2col and
    /// transposed-conv tiles, one layer's transformed weights: 4–10 MB measured on small networks,
    /// where the 10 % alone fell 20–45 % short — UNet3DMemoryEstimateTests runs real steps).
    /// `dro-plan` skips candidates whose estimate exceeds the machine's memory.
    public static func trainingMemoryEstimate(options: UNet3DOptions, batch: Int, spatial: [Int]) throws -> Int {
        let parameters = try options.checkedParameterCount()
        let activations = UNet3DActivations.floatCount(layout: UNet3DLayout(options), options: options, batch: batch,
                                                       spatial: spatial, training: true)
        return Int(Double(4 * activations) * 1.1) + 4 * 4 * parameters + fixedScratchBytes
    }

    /// The part of the convolutions' scratch that does not grow with the volume (see
    /// `trainingMemoryEstimate`).
    public static let fixedScratchBytes = 32 << 20
}
