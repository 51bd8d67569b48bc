import Tensor

/// nnU-Net-style 3D U-Net (docs/method.md §4) over one parameter arena.
///
/// Encoder level l: `convsPerLevel` × [Conv3d (level l's kernel, 3×3×3 by default, padding k/2
/// per axis) (+bias) → InstanceNorm(affine) → LeakyReLU], the first conv of levels l > 0 with
/// stride `poolStrides[l−1]` (2×2×2 by default). Decoder level l (deepest first):
/// ConvTranspose3d with kernel = stride = `poolStrides[l]` from f[l+1] to f[l] channels, concat
/// [up, skip] (nnU-Net's order: torch.cat((x, skip), 1)), then the conv blocks with level l's
/// kernel; a final 1×1×1 conv gives the class logits. Tensors are NCDHW; each spatial size must
/// be divisible by the product of that axis' strides (2^(levels−1) by default).
public final class UNet3D {
    public let options: UNet3DOptions
    public let arena: ParameterArena
    let layout: UNet3DLayout
    /// Worker threads for the GEMMs and the elementwise passes (`Parallel.configure`).
    public var threads: Int
    let workspace = Workspace()
    /// Scratch of the Winograd kernels (kept apart from im2col's so each keeps its grown size).
    let winogradWorkspace = Workspace()
    /// Kernel choice for the 3×3×3 convolutions (default: Winograd where it pays, see ConvAlgorithm).
    public var convAlgorithm: ConvAlgorithm = .auto
    /// When set, every layer call is timed into it (benchmarks).
    public var profiler: LayerProfiler?
    /// When set, `backward` calls it after each layer with the range of `arena.gradients` that
    /// layer finished (final for this pass; every element reported once), in backward order —
    /// data-parallel training starts summing finished buckets while backward goes on.
    public var gradientsReady: ((Range<Int>) -> Void)?
    var trainingState: UNet3DActivations?
    private var inferenceState: UNet3DActivations?

    /// Builds the network and initialises its parameters (Kaiming normal a = 0.01 fan_in for
    /// conv weights, biases 0, norm weights 1) from `rng`.
    public init(options: UNet3DOptions, threads: Int = 1, rng: inout some RandomNumberGenerator) throws {
        try options.validate()
        self.options = options
        self.threads = max(1, threads)
        layout = UNet3DLayout(options)
        arena = ParameterArena(layout: ParameterLayout(layout.specs))
        arena.layout.initialize(arena.values.pointer, using: &rng)
    }

    public var parameterCount: Int { arena.layout.totalCount }

    /// Checks a batch/spatial size against the architecture.
    public func checkShape(batch: Int, spatial: [Int]) throws {
        guard batch >= 1 else { throw UNet3DError.shape(what: "batch", found: "\(batch)", allowed: "≥ 1") }
        // Divisors in tensor order (D, H, W) like `spatial`.
        let divisors = Array(options.sizeDivisors.reversed())
        guard spatial.count == 3, zip(spatial, divisors).allSatisfy({ $0 >= $1 && $0 % $1 == 0 }) else {
            if Set(divisors).count == 1, options.levelStrides.allSatisfy({ $0 == [2, 2, 2] }) {
                throw UNet3DError.shape(what: "patch size", found: "\(spatial)",
                                        allowed: "3 sizes, each a positive multiple of \(divisors[0]) (2^(levels−1))")
            }
            throw UNet3DError.shape(what: "patch size", found: "\(spatial)",
                                    allowed: "3 sizes (D, H, W), positive multiples of \(divisors) (the product of each axis' pool strides)")
        }
    }

    private func state(training: Bool, batch: Int, spatial: [Int]) -> UNet3DActivations {
        let current = training ? trainingState : inferenceState
        if let s = current, s.batch == batch, s.spatial == spatial { return s }
        let s = UNet3DActivations(layout: layout, options: options, batch: batch, spatial: spatial, training: training)
        if training { trainingState = s } else { inferenceState = s }
        return s
    }

    /// Frees cached activations (e.g. before switching from training to inference).
    public func releaseActivations() {
        trainingState = nil; inferenceState = nil; workspace.releaseAll(); winogradWorkspace.releaseAll()
    }

    /// Floats held by cached activations and scratch.
    public var activationFloats: Int {
        (trainingState?.floatCount ?? 0) + (inferenceState?.floatCount ?? 0) + workspace.floatsAllocated + winogradWorkspace.floatsAllocated
    }

    @inline(__always)
    func timed(_ name: String, _ kind: LayerProfiler.Kind, flops: Double, path: String = "",
               geometry: Conv3dGeometry? = nil, inputGradient: Bool = false, _ body: () -> Void) {
        if let p = profiler {
            p.measure(name, kind: kind, flops: flops, path: path, geometry: geometry, inputGradient: inputGradient, body)
        } else { body() }
    }

    // MARK: forward

    /// input [N, inChannels, D, H, W] → logits [N, classes, D, H, W], keeping what `backward` needs
    /// (every conv output and norm statistics; the activations are recomputed from them). The
    /// returned pointer stays valid until the next forward with another shape.
    @discardableResult
    public func forward(_ input: UnsafePointer<Float>, batch: Int, spatial: [Int]) throws -> UnsafePointer<Float> {
        try checkShape(batch: batch, spatial: spatial)
        let s = state(training: true, batch: batch, spatial: spatial)
        run(input, s)
        return UnsafePointer(s.logits)
    }

    /// Inference: the same function as `forward` without keeping activations for backward
    /// (z and a share buffers, blocks ping-pong). Writes logits [N, classes, D, H, W] to `output`.
    public func predict(_ input: UnsafePointer<Float>, batch: Int, spatial: [Int],
                        into output: UnsafeMutablePointer<Float>) throws {
        try checkShape(batch: batch, spatial: spatial)
        let s = state(training: false, batch: batch, spatial: spatial)
        run(input, s)
        output.update(from: s.logits, count: batch * options.classes * spatial.reduce(1, *))
    }

    private func run(_ input: UnsafePointer<Float>, _ s: UNet3DActivations) {
        Parallel.configure(threads: threads)
        let n = s.batch, f = options.features, levels = f.count
        s.input.update(from: input, count: n * options.inChannels * s.spatial.reduce(1, *))
        var x = UnsafePointer(s.input)
        var dims = s.spatial
        for l in 0..<levels {
            for (j, blk) in layout.encoder[l].enumerated() {
                let g = geometry(blk, batch: n, inSpatial: dims), buf = s.encoder[l][j]
                // A skip goes straight into the concat buffer; with N > 1 samples the norm also
                // writes it contiguously to the scratch, which the next level's conv reads.
                let copy = buf.aSampleStride != nil && n > 1 ? s.scratch : nil
                convBlockForward(blk, name: "enc\(l).\(j)", g: g, x: x, buffers: buf, copy: copy)
                x = UnsafePointer(copy ?? buf.a)
                dims = [g.outD, g.outH, g.outW]
            }
        }
        for l in stride(from: levels - 2, through: 0, by: -1) {
            let u = layout.up[l]
            let ug = ConvTranspose3dGeometry(batch: n, inChannels: u.inChannels, outChannels: u.outChannels,
                                             inD: dims[0], inH: dims[1], inW: dims[2], strideDHW: u.stride)
            dims = [ug.outD, ug.outH, ug.outW]
            let vox = ug.outVoxels, cat = s.concat[l]
            timed("up\(l) convT fwd", .convTranspose, flops: ug.forwardFLOPs, path: ConvTranspose3d.kernelName(ug, backward: false)) {
                ConvTranspose3d.forward(x: x, w: arena.value(u.weight), bias: arena.value(u.bias), y: cat, g: ug,
                                        ySampleStride: 2 * f[l] * vox, workspace: workspace, threads: threads)
            }
            let skip = s.encoder[l].last!
            if skip.aSampleStride == nil {   // inference: one concat buffer for all levels
                timed("cat\(l) fwd", .other, flops: 0) {
                    for i in 0..<n { (cat + (2 * i + 1) * f[l] * vox).update(from: skip.a + i * f[l] * vox, count: f[l] * vox) }
                }
            }
            x = UnsafePointer(cat)
            for (j, blk) in layout.decoder[l].enumerated() {
                let g = geometry(blk, batch: n, inSpatial: dims)
                convBlockForward(blk, name: "dec\(l).\(j)", g: g, x: x, buffers: s.decoder[l][j], copy: nil)
                x = UnsafePointer(s.decoder[l][j].a)
            }
            if s.training, l > 0, l <= layout.auxHeads.count {
                let h = layout.auxHeads[l - 1], ag = auxHeadGeometry(l, batch: n, spatial: dims)
                timed("ds\(l) conv1 fwd", .conv, flops: ag.forwardFLOPs, path: Conv3d.kernelName(ag)) {
                    Conv3d.forward(x: x, w: arena.value(h.weight), bias: arena.value(h.bias), y: s.auxLogits[l - 1],
                                   g: ag, workspace: workspace, threads: threads)
                }
            }
        }
        // The last block's activation went to the scratch (training) and stays there for backward.
        s.headInputKept = s.training && s.scratch != nil
        let hg = headGeometry(batch: n, spatial: s.spatial)
        timed("head conv1 fwd", .conv, flops: hg.forwardFLOPs, path: Conv3d.kernelName(hg)) {
            Conv3d.forward(x: x, w: arena.value(layout.head.weight), bias: arena.value(layout.head.bias), y: s.logits,
                           g: hg, workspace: workspace, threads: threads)
        }
    }

    func geometry(_ b: UNet3DLayout.ConvBlock, batch: Int, inSpatial d: [Int]) -> Conv3dGeometry {
        Conv3dGeometry(batch: batch, inChannels: b.inChannels, outChannels: b.outChannels,
                       inD: d[0], inH: d[1], inW: d[2], kernelDHW: b.kernel, strideDHW: b.stride,
                       paddingDHW: b.kernel.map { $0 / 2 })
    }

    func auxHeadGeometry(_ level: Int, batch: Int, spatial d: [Int]) -> Conv3dGeometry {
        Conv3dGeometry(batch: batch, inChannels: layout.auxHeads[level - 1].inChannels, outChannels: options.classes,
                       inD: d[0], inH: d[1], inW: d[2], kernel: 1)
    }

    /// Deep-supervision logits [N, classes, level l's D, H, W] of the last `forward`, for
    /// `options.supervisedLevels` l > 0 (index l − 1); empty without deep supervision.
    public var auxiliaryLogits: [UnsafePointer<Float>] { trainingState?.auxLogits.map { UnsafePointer($0) } ?? [] }

    func headGeometry(batch: Int, spatial d: [Int]) -> Conv3dGeometry {
        Conv3dGeometry(batch: batch, inChannels: layout.head.inChannels, outChannels: layout.head.classes,
                       inD: d[0], inH: d[1], inW: d[2], kernel: 1)
    }

    /// `copy`: where the activation also goes as N contiguous samples (nil: only to `buffers.a`).
    private func convBlockForward(_ b: UNet3DLayout.ConvBlock, name: String, g: Conv3dGeometry, x: UnsafePointer<Float>,
                                  buffers: UNet3DActivations.Block, copy: UnsafeMutablePointer<Float>?) {
        var statisticsDone = false
        timed("\(name) conv fwd", .conv, flops: g.forwardFLOPs, path: ConvDispatch.path(g, convAlgorithm), geometry: g) {
            statisticsDone = ConvDispatch.forward(
                x: x, w: arena.value(b.weight), bias: arena.value(b.bias), y: buffers.z, g: g,
                algorithm: convAlgorithm, workspace: workspace, winogradWorkspace: winogradWorkspace, threads: threads,
                statistics: WinogradNormStatistics(mean: buffers.mean, rstd: buffers.rstd, eps: options.normEps))
        }
        if statisticsDone {
            // The conv's output stage wrote the norm's statistics.
            timed("\(name) norm+lrelu fwd", .norm, flops: 0) {
                InstanceNormLeakyReLU.apply(x: buffers.z, gamma: arena.value(b.gamma), beta: arena.value(b.beta),
                                            mean: buffers.mean, rstd: buffers.rstd, y: buffers.a,
                                            ySampleStride: buffers.aSampleStride, copy: copy, batch: g.batch,
                                            channels: g.outChannels, voxels: g.outVoxels, slope: options.leakySlope,
                                            threads: threads)
            }
            return
        }
        timed("\(name) norm+lrelu fwd", .norm, flops: 0) { InstanceNormLeakyReLU.forward(x: buffers.z, gamma: arena.value(b.gamma), beta: arena.value(b.beta),
                                      y: buffers.a, ySampleStride: buffers.aSampleStride, copy: copy,
                                      mean: buffers.mean, rstd: buffers.rstd,
                                      batch: g.batch, channels: g.outChannels, voxels: g.outVoxels,
                                      eps: options.normEps, slope: options.leakySlope, threads: threads) }
    }

    // MARK: parameters on disk

    /// Raw little-endian Float32 parameters in the layout's order (`parameterNames`).
    public func saveParameters(to path: String) throws { try arena.save(to: path) }
    public func loadParameters(from path: String) throws { try arena.load(from: path) }

    /// (name, shape) of every parameter tensor in arena order.
    public var parameterTensors: [(name: String, shape: [Int])] { layout.specs.map { ($0.name, $0.shape) } }
}
