import Tensor

/// The backward pass of `UNet3D` and what it exposes of the last training forward.
extension UNet3D {
    /// Back-propagates dLogits [N, classes, D, H, W] (and, with deep supervision, dLoss/d of each
    /// `auxiliaryLogits` entry, same order) through the last `forward`.
    /// OVERWRITES the gradient arena (`arena.gradients`) with dLoss/dθ.
    ///
    /// Buffers (see `UNet3DActivations`): three gradient slots — H = `scratch`, G0 and G1 = the two
    /// halves of `gradConcat` — hold dLoss/da of a block (turned into dLoss/dz in place by the norm
    /// backward), its input gradient and the recomputed input activation of its weight gradient;
    /// `gradConcat` as a whole takes the concat gradient; a decoder level's concat buffer, dead
    /// once its first conv is back-propagated, takes its skip gradient and its up gradient.
    public func backward(_ dLogits: UnsafePointer<Float>, auxiliary: [UnsafePointer<Float>] = []) throws {
        guard let s = trainingState, let h = s.scratch, let gc = s.gradConcat else {
            throw UNet3DError.shape(what: "backward call", found: "no training forward before it", allowed: "forward, then backward")
        }
        guard auxiliary.isEmpty || auxiliary.count == layout.auxHeads.count else {
            throw UNet3DError.shape(what: "deep-supervision gradients", found: "\(auxiliary.count)",
                                    allowed: "0 or \(layout.auxHeads.count)")
        }
        Parallel.configure(threads: threads)
        arena.zeroGradients()
        let n = s.batch, f = options.features, levels = f.count
        let vox = (0..<levels).map { options.levelSpatial(s.spatial, $0) }
        let slots = [h, gc, gc + s.slotCount], g0 = slots[1], g1 = slots[2]
        /// The first slot not among `busy`.
        func free(_ busy: UnsafeMutablePointer<Float>...) -> UnsafeMutablePointer<Float> {
            slots.first { !busy.contains($0) }!
        }
        /// Recomputes a block's activation a (N contiguous samples) into `dst` (a free slot).
        func activation(_ blk: UNet3DLayout.ConvBlock, _ buf: UNet3DActivations.Block, level l: Int, name: String,
                        into dst: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
            let v = vox[l].reduce(1, *)
            precondition(n * f[l] * v <= s.slotCount)
            timed("\(name) a recompute", .norm, flops: 0) {
                InstanceNormLeakyReLU.apply(x: buf.z, gamma: arena.value(blk.gamma), beta: arena.value(blk.beta),
                                            mean: buf.mean, rstd: buf.rstd, y: dst, batch: n, channels: f[l], voxels: v,
                                            slope: options.leakySlope, threads: threads)
            }
            return dst
        }
        /// Runs `body(x, activation)` with the input of a conv block whose input is block `blk`'s
        /// activation: where the block's conv fuses it (`ConvDispatch.fusesInputActivation`), x is
        /// the kept z with the activation's per-row constants (nothing written); else the
        /// activation recomputed into `dst`.
        func withInput(_ blk: UNet3DLayout.ConvBlock, _ buf: UNet3DActivations.Block, level l: Int, name: String,
                       into dst: UnsafeMutablePointer<Float>, for g: Conv3dGeometry,
                       _ body: (UnsafePointer<Float>, WinogradInputActivation?) -> Void) {
            guard ConvDispatch.fusesInputActivation(g, convAlgorithm) else {
                body(activation(blk, buf, level: l, name: name, into: dst), nil)
                return
            }
            let rows = n * f[l]
            let constants = UnsafeMutablePointer<Float>.allocate(capacity: 2 * rows)
            defer { constants.deallocate() }
            InstanceNormLeakyReLU.rowConstants(gamma: arena.value(blk.gamma), beta: arena.value(blk.beta),
                                               mean: buf.mean, rstd: buf.rstd, batch: n, channels: f[l],
                                               scale: constants, shift: constants + rows)
            body(UnsafePointer(buf.z), WinogradInputActivation(scale: constants, shift: constants + rows,
                                                               slope: options.leakySlope))
        }
        /// Input activation of decoder level l's transposed conv (= output of the level below).
        func upInput(_ l: Int, into dst: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
            l + 1 == levels - 1
                ? activation(layout.encoder[l + 1].last!, s.encoder[l + 1].last!, level: l + 1, name: "enc\(l + 1).\(layout.encoder[l + 1].count - 1)", into: dst)
                : activation(layout.decoder[l + 1].last!, s.decoder[l + 1].last!, level: l + 1, name: "dec\(l + 1).\(layout.decoder[l + 1].count - 1)", into: dst)
        }
        /// Where dLoss/da of decoder level l's last block must arrive: its chain of blocks ends
        /// (block 0) in H, so that `gradConcat` is free for the concat gradient.
        func decoderEntry(_ l: Int) -> UnsafeMutablePointer<Float> { layout.decoder[l].count == 1 ? h : g1 }

        // Head: dLoss/da of its input into the decoder's (or the only encoder level's) entry slot.
        let hg = headGeometry(batch: n, spatial: s.spatial)
        let headTop = levels > 1 ? decoderEntry(0) : h
        // The head's input: still in H after the forward (unless a backward ran since, or the head
        // writes its input gradient there), else recomputed.
        let headBlock = levels > 1 ? s.decoder[0].last! : s.encoder[0].last!
        let headInputKept = s.headInputKept && headBlock.a == h && headTop != h
        s.headInputKept = false
        let headInput = headInputKept ? h : levels > 1
            ? activation(layout.decoder[0].last!, s.decoder[0].last!, level: 0, name: "dec0.\(layout.decoder[0].count - 1)", into: g0)
            : activation(layout.encoder[0].last!, s.encoder[0].last!, level: 0, name: "enc0.\(layout.encoder[0].count - 1)", into: g0)
        timed("head conv1 bwd", .conv, flops: 2 * hg.forwardFLOPs, path: Conv3d.kernelName(hg)) {
            Conv3d.backward(x: headInput, w: arena.value(layout.head.weight), dy: dLogits, dx: headTop,
                            dw: arena.gradient(layout.head.weight), dbias: arena.gradient(layout.head.bias),
                            g: hg, workspace: workspace, threads: threads)
        }
        reportReady(layout.head.weight, layout.head.bias)
        var cur = headTop
        for l in 0..<(levels - 1) {
            let d = vox[l], v = d.reduce(1, *)
            if l > 0, l <= auxiliary.count {
                // cur = dLoss/d(decoder[l] output) from above; add this level's head.
                let hd = layout.auxHeads[l - 1], ag = auxHeadGeometry(l, batch: n, spatial: d)
                let x = activation(layout.decoder[l].last!, s.decoder[l].last!, level: l,
                                   name: "dec\(l).\(layout.decoder[l].count - 1)", into: free(cur))
                timed("ds\(l) conv1 bwd", .conv, flops: 2 * ag.forwardFLOPs, path: Conv3d.kernelName(ag)) {
                    Conv3d.backward(x: x, w: arena.value(hd.weight), dy: auxiliary[l - 1], dx: cur,
                                    dw: arena.gradient(hd.weight), dbias: arena.gradient(hd.bias),
                                    g: ag, workspace: workspace, accumulateInput: true, threads: threads)
                }
                reportReady(hd.weight, hd.bias)
            }
            for j in stride(from: layout.decoder[l].count - 1, through: 0, by: -1) {
                let blk = layout.decoder[l][j], buf = s.decoder[l][j]
                let geo = geometry(blk, batch: n, inSpatial: d)
                if j > 0 {
                    // Block 0 must find its dLoss/da in H: block 1 writes there, blocks above in G0/G1.
                    let dst = j == 1 ? h : (cur == g1 ? g0 : g1)
                    withInput(layout.decoder[l][j - 1], s.decoder[l][j - 1], level: l, name: "dec\(l).\(j - 1)",
                              into: free(cur, dst), for: geo) { x, act in
                        convBlockBackward(blk, name: "dec\(l).\(j)", g: geo, x: x, buffers: buf, grad: cur, dx: dst,
                                          accumulate: false, inputActivation: act)
                    }
                    cur = dst
                } else {
                    precondition(cur == h && n * 2 * f[l] * v <= 2 * s.slotCount)
                    convBlockBackward(blk, name: "dec\(l).0", g: geo, x: s.concat[l], buffers: buf, grad: cur, dx: gc, accumulate: false)
                }
            }
            // gc = d(concat) [N, 2f, V]: d(up) = each sample's first f channels, d(skip) the rest.
            // The skip gradient goes to the now dead concat buffer's first half (contiguous: the
            // encoder adds its next level's input gradient there). The transposed conv reads d(up)
            // in place (sample stride 2f·V); its input activation and its input gradient go to the
            // concat buffer's second half when both fit there and the level below does not need
            // its entry in H — else d(up) is copied out first (gc's halves are gradient slots).
            let u = layout.up[l], below = vox[l + 1]
            let ug = ConvTranspose3dGeometry(batch: n, inChannels: u.inChannels, outChannels: u.outChannels,
                                             inD: below[0], inH: below[1], inW: below[2], strideDHW: u.stride)
            let skipGrad = s.concat[l], half = s.concat[l] + n * f[l] * v
            let inPlace = 2 * ug.inputCount <= n * f[l] * v
                && (l + 1 == levels - 1 || decoderEntry(l + 1) != h)
            let upGrad = inPlace ? gc : half
            timed("cat\(l) bwd", .other, flops: 0) {
                ChannelConcat.backward(dy: gc, da: inPlace ? nil : upGrad, db: skipGrad, batch: n,
                                       channelsA: f[l], channelsB: f[l], voxels: v)
            }
            let next = inPlace ? half + ug.inputCount : (l + 1 < levels - 1 ? decoderEntry(l + 1) : g1)
            let x = upInput(l, into: inPlace ? half : g0)
            timed("up\(l) convT bwd", .convTranspose, flops: 2 * ug.forwardFLOPs, path: ConvTranspose3d.kernelName(ug, backward: true)) {
                ConvTranspose3d.backward(x: x, w: arena.value(u.weight), dy: upGrad, dx: next,
                                         dw: arena.gradient(u.weight), dbias: arena.gradient(u.bias),
                                         g: ug, dySampleStride: inPlace ? 2 * f[l] * v : nil,
                                         workspace: workspace, threads: threads)
            }
            reportReady(u.weight, u.bias)
            cur = next
        }
        for l in stride(from: levels - 1, through: 0, by: -1) {
            // dLoss/da of this level's output: from the decoder (deepest level) or the skip
            // gradient, which already holds both the concat path and the next level's first conv.
            var g = l == levels - 1 ? cur : s.concat[l]
            let inDims = l == 0 ? s.spatial : vox[l - 1]
            for j in stride(from: layout.encoder[l].count - 1, through: 0, by: -1) {
                let blk = layout.encoder[l][j], buf = s.encoder[l][j]
                let geo = geometry(blk, batch: n, inSpatial: j == 0 ? inDims : vox[l])
                if j > 0 {
                    let dst = free(g)
                    withInput(layout.encoder[l][j - 1], s.encoder[l][j - 1], level: l, name: "enc\(l).\(j - 1)",
                              into: free(g, dst), for: geo) { x, act in
                        convBlockBackward(blk, name: "enc\(l).\(j)", g: geo, x: x, buffers: buf, grad: g, dx: dst,
                                          accumulate: false, inputActivation: act)
                    }
                    g = dst
                } else if l > 0 {
                    withInput(layout.encoder[l - 1].last!, s.encoder[l - 1].last!, level: l - 1,
                              name: "enc\(l - 1).\(layout.encoder[l - 1].count - 1)", into: free(g), for: geo) { x, act in
                        convBlockBackward(blk, name: "enc\(l).\(j)", g: geo, x: x, buffers: buf, grad: g,
                                          dx: s.concat[l - 1], accumulate: true, inputActivation: act)
                    }
                } else {
                    convBlockBackward(blk, name: "enc\(l).\(j)", g: geo, x: s.input, buffers: buf, grad: g, dx: nil, accumulate: false)
                }
            }
        }
    }

    /// grad holds dLoss/da on entry (overwritten with dLoss/dz); dx receives dLoss/dx. The norm
    /// backward recomputes the leaky ReLU mask from z (a is not kept). With `inputActivation`, x
    /// is the previous block's z and the conv computes its activation itself.
    private func convBlockBackward(_ b: UNet3DLayout.ConvBlock, name: String, g: Conv3dGeometry, x: UnsafePointer<Float>,
                                   buffers: UNet3DActivations.Block, grad: UnsafeMutablePointer<Float>,
                                   dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                                   inputActivation: WinogradInputActivation? = nil) {
        timed("\(name) norm+lrelu bwd", .norm, flops: 0) { InstanceNormLeakyReLU.backward(x: buffers.z, gamma: arena.value(b.gamma), beta: arena.value(b.beta),
                                       mean: buffers.mean, rstd: buffers.rstd, dOutput: grad, dx: grad,
                                       dgamma: arena.gradient(b.gamma), dbeta: arena.gradient(b.beta),
                                       batch: g.batch, channels: g.outChannels, voxels: g.outVoxels,
                                       slope: options.leakySlope, threads: threads) }
        // Backward = input gradient (skipped for the first layer) + weight gradient.
        timed("\(name) conv bwd", .conv, flops: (dx == nil ? 1 : 2) * g.forwardFLOPs, path: ConvDispatch.path(g, convAlgorithm, backward: true),
              geometry: g, inputGradient: dx != nil) {
            ConvDispatch.backward(x: x, w: arena.value(b.weight), dy: grad, dx: dx, dw: arena.gradient(b.weight),
                                  dbias: arena.gradient(b.bias), g: g, algorithm: convAlgorithm, workspace: workspace,
                                  winogradWorkspace: winogradWorkspace,
                                  accumulateInput: accumulate, threads: threads, inputActivation: inputActivation)
        }
        reportReady(b.weight, b.beta)
    }

    /// Calls `gradientsReady` with the arena range of parameters first...last (adjacent in the layout).
    @inline(__always)
    private func reportReady(_ first: Int, _ last: Int) {
        guard let gradientsReady else { return }
        let offsets = arena.layout.offsets
        gradientsReady(offsets[first] ..< offsets[last] + arena.layout.specs[last].count)
    }

    /// Outputs of every conv block of the last training forward, in execution order (encoder
    /// levels, then decoder levels deepest first), named as the parameters ("encoder.0.1", ...).
    /// For cross-checks against other implementations, which need the LeakyReLU branch taken.
    public func cachedBlockOutputs() -> [(name: String, values: [Float])] {
        guard let s = trainingState else { return [] }
        let n = s.batch, f = options.features
        var out: [(String, [Float])] = []
        // Recomputed from the kept z and statistics (the forward's a, bit for bit).
        func output(_ blk: UNet3DLayout.ConvBlock, _ buf: UNet3DActivations.Block, level l: Int) -> [Float] {
            let v = options.levelSpatial(s.spatial, l).reduce(1, *)
            return [Float](unsafeUninitializedCapacity: n * f[l] * v) { p, count in
                InstanceNormLeakyReLU.apply(x: buf.z, gamma: arena.value(blk.gamma), beta: arena.value(blk.beta),
                                            mean: buf.mean, rstd: buf.rstd, y: p.baseAddress!, batch: n, channels: f[l],
                                            voxels: v, slope: options.leakySlope, threads: threads)
                count = n * f[l] * v
            }
        }
        for l in 0..<f.count {
            for j in s.encoder[l].indices { out.append(("encoder.\(l).\(j)", output(layout.encoder[l][j], s.encoder[l][j], level: l))) }
        }
        for l in stride(from: f.count - 2, through: 0, by: -1) {
            for j in s.decoder[l].indices { out.append(("decoder.\(l).\(j)", output(layout.decoder[l][j], s.decoder[l][j], level: l))) }
        }
        return out
    }
}
