import Common
import XCTest
import Tensor
@testable import Model

/// Training keeps only conv outputs z and norm statistics and recomputes activations; its
/// gradients must equal, bit for bit, those of the straightforward path that keeps every z and
/// a — reimplemented here (`storedActivationPath`, the network's training pass before the memory
/// cut: own buffers per z, a, concat and skip gradient; the norm backward reads the stored a).
final class UNetStoredActivationsTests: XCTestCase {
    /// Logits, deep-supervision logits and the gradient arena of one forward + backward on `net`'s
    /// parameters, with every activation kept.
    static func storedActivationPath(_ net: UNet3D, input: [Float], batch n: Int, spatial: [Int],
                                     dLogits: [Float], auxiliary: [[Float]]) -> (logits: [Float], aux: [[Float]], grads: [Float], blocks: [[Float]]) {
        let o = net.options, f = o.features, levels = f.count, layout = net.layout, arena = net.arena
        let ws = Workspace(), wws = Workspace(), threads = net.threads, alg = net.convAlgorithm
        let vox = (0..<levels).map { o.levelSpatial(spatial, $0) }
        let size = vox.map { $0.reduce(1, *) }
        struct Block { var z: [Float], a: [Float], mean: [Float], rstd: [Float] }
        func block(_ l: Int) -> Block {
            Block(z: .init(repeating: 0, count: n * f[l] * size[l]), a: .init(repeating: 0, count: n * f[l] * size[l]),
                  mean: .init(repeating: 0, count: n * f[l]), rstd: .init(repeating: 0, count: n * f[l]))
        }
        var enc = (0..<levels).map { l in layout.encoder[l].map { _ in block(l) } }
        var dec = (0..<(levels - 1)).map { l in layout.decoder[l].map { _ in block(l) } }
        var cat = (0..<(levels - 1)).map { [Float](repeating: 0, count: n * 2 * f[$0] * size[$0]) }
        var logits = [Float](repeating: 0, count: n * o.classes * size[0])
        var aux = layout.auxHeads.indices.map { [Float](repeating: 0, count: n * o.classes * size[$0 + 1]) }
        func fwdBlock(_ b: UNet3DLayout.ConvBlock, _ g: Conv3dGeometry, _ x: [Float], _ blk: inout Block) {
            ConvDispatch.forward(x: x, w: arena.value(b.weight), bias: arena.value(b.bias), y: &blk.z, g: g, algorithm: alg,
                                 workspace: ws, winogradWorkspace: wws, threads: threads)
            InstanceNormLeakyReLU.forward(x: blk.z, gamma: arena.value(b.gamma), beta: arena.value(b.beta), y: &blk.a,
                                          mean: &blk.mean, rstd: &blk.rstd, batch: n, channels: g.outChannels,
                                          voxels: g.outVoxels, eps: o.normEps, slope: o.leakySlope, threads: threads)
        }
        var x = input
        for l in 0..<levels {
            for j in layout.encoder[l].indices {
                let b = layout.encoder[l][j], g = net.geometry(b, batch: n, inSpatial: j == 0 && l > 0 ? vox[l - 1] : vox[l])
                fwdBlock(b, g, x, &enc[l][j]); x = enc[l][j].a
            }
        }
        for l in stride(from: levels - 2, through: 0, by: -1) {
            let u = layout.up[l], below = vox[l + 1], v = size[l]
            let ug = ConvTranspose3dGeometry(batch: n, inChannels: u.inChannels, outChannels: u.outChannels,
                                             inD: below[0], inH: below[1], inW: below[2], strideDHW: u.stride)
            ConvTranspose3d.forward(x: x, w: arena.value(u.weight), bias: arena.value(u.bias), y: &cat[l], g: ug,
                                    ySampleStride: 2 * f[l] * v, workspace: ws, threads: threads)
            for i in 0..<n { for k in 0..<(f[l] * v) { cat[l][(2 * i + 1) * f[l] * v + k] = enc[l].last!.a[i * f[l] * v + k] } }
            x = cat[l]
            for j in layout.decoder[l].indices {
                fwdBlock(layout.decoder[l][j], net.geometry(layout.decoder[l][j], batch: n, inSpatial: vox[l]), x, &dec[l][j])
                x = dec[l][j].a
            }
            if l > 0, l <= layout.auxHeads.count {
                let h = layout.auxHeads[l - 1]
                Conv3d.forward(x: x, w: arena.value(h.weight), bias: arena.value(h.bias), y: &aux[l - 1],
                               g: net.auxHeadGeometry(l, batch: n, spatial: vox[l]), workspace: ws, threads: threads)
            }
        }
        let hg = net.headGeometry(batch: n, spatial: spatial)
        Conv3d.forward(x: x, w: arena.value(layout.head.weight), bias: arena.value(layout.head.bias), y: &logits, g: hg,
                       workspace: ws, threads: threads)

        // Backward.
        arena.zeroGradients()
        func bwdBlock(_ b: UNet3DLayout.ConvBlock, _ g: Conv3dGeometry, _ x: [Float], _ blk: Block, _ grad: inout [Float],
                      _ dx: UnsafeMutablePointer<Float>?, accumulate: Bool) {
            grad.withUnsafeMutableBufferPointer { gp in
                InstanceNormLeakyReLU.backward(x: blk.z, gamma: arena.value(b.gamma), mean: blk.mean, rstd: blk.rstd,
                                               output: blk.a, dOutput: gp.baseAddress!, dx: gp.baseAddress!,
                                               dgamma: arena.gradient(b.gamma), dbeta: arena.gradient(b.beta), batch: n,
                                               channels: g.outChannels, voxels: g.outVoxels, slope: o.leakySlope, threads: threads)
            }
            ConvDispatch.backward(x: x, w: arena.value(b.weight), dy: grad, dx: dx, dw: arena.gradient(b.weight),
                                  dbias: arena.gradient(b.bias), g: g, algorithm: alg, workspace: ws, winogradWorkspace: wws,
                                  accumulateInput: accumulate, threads: threads)
        }
        func zeros(_ l: Int, _ k: Int = 1) -> [Float] { [Float](repeating: 0, count: k * n * f[l] * size[l]) }
        var cur = zeros(0)
        let headInput = levels > 1 ? dec[0].last!.a : enc[0].last!.a
        Conv3d.backward(x: headInput, w: arena.value(layout.head.weight), dy: dLogits, dx: &cur,
                        dw: arena.gradient(layout.head.weight), dbias: arena.gradient(layout.head.bias), g: hg,
                        workspace: ws, threads: threads)
        var skipGrad = (0..<(levels - 1)).map { zeros($0) }
        for l in 0..<(levels - 1) {
            if l > 0, l <= auxiliary.count {
                let h = layout.auxHeads[l - 1]
                Conv3d.backward(x: dec[l].last!.a, w: arena.value(h.weight), dy: auxiliary[l - 1], dx: &cur,
                                dw: arena.gradient(h.weight), dbias: arena.gradient(h.bias),
                                g: net.auxHeadGeometry(l, batch: n, spatial: vox[l]), workspace: ws, accumulateInput: true,
                                threads: threads)
            }
            for j in stride(from: layout.decoder[l].count - 1, through: 0, by: -1) {
                var dx = zeros(l, j == 0 ? 2 : 1)
                bwdBlock(layout.decoder[l][j], net.geometry(layout.decoder[l][j], batch: n, inSpatial: vox[l]),
                         j == 0 ? cat[l] : dec[l][j - 1].a, dec[l][j], &cur, &dx, accumulate: false)
                cur = dx
            }
            var dUp = zeros(l)
            ChannelConcat.backward(dy: cur, da: &dUp, db: &skipGrad[l], batch: n, channelsA: f[l], channelsB: f[l], voxels: size[l])
            let u = layout.up[l], below = vox[l + 1]
            let ug = ConvTranspose3dGeometry(batch: n, inChannels: u.inChannels, outChannels: u.outChannels,
                                             inD: below[0], inH: below[1], inW: below[2], strideDHW: u.stride)
            cur = zeros(l + 1)
            ConvTranspose3d.backward(x: l + 1 == levels - 1 ? enc[l + 1].last!.a : dec[l + 1].last!.a, w: arena.value(u.weight),
                                     dy: dUp, dx: &cur, dw: arena.gradient(u.weight), dbias: arena.gradient(u.bias), g: ug,
                                     workspace: ws, threads: threads)
        }
        for l in stride(from: levels - 1, through: 0, by: -1) {
            var g = l == levels - 1 ? cur : skipGrad[l]
            for j in stride(from: layout.encoder[l].count - 1, through: 0, by: -1) {
                let b = layout.encoder[l][j]
                let geo = net.geometry(b, batch: n, inSpatial: j == 0 ? (l == 0 ? spatial : vox[l - 1]) : vox[l])
                if j > 0 {
                    var dx = zeros(l)
                    bwdBlock(b, geo, enc[l][j - 1].a, enc[l][j], &g, &dx, accumulate: false)
                    g = dx
                } else if l > 0 {
                    bwdBlock(b, geo, enc[l - 1].last!.a, enc[l][j], &g, &skipGrad[l - 1], accumulate: true)
                } else {
                    bwdBlock(b, geo, input, enc[l][j], &g, nil, accumulate: false)
                }
            }
        }
        let blocks = enc.joined().map(\.a) + (0..<(levels - 1)).reversed().flatMap { dec[$0].map(\.a) }
        return (logits, aux, Array(UnsafeBufferPointer(start: arena.gradients.pointer, count: net.parameterCount)), blocks)
    }

    func compare(_ o: UNet3DOptions, batch n: Int, spatial: [Int], algorithm: ConvAlgorithm = .auto,
                 line: UInt = #line) throws {
        var rng = SplitMix64(seed: 5)
        let net = try UNet3D(options: o, threads: 2, rng: &rng)
        net.convAlgorithm = algorithm
        // Non-trivial norm parameters so the recomputed activations depend on γ and β.
        for (i, spec) in net.arena.layout.specs.enumerated() where spec.name.hasSuffix(".norm.weight") || spec.name.hasSuffix(".norm.bias") {
            let p = net.arena.value(i)
            for k in 0..<spec.count { p[k] = Float(RandomSample.normal(using: &rng)) * 0.5 + (spec.name.hasSuffix("weight") ? 1 : 0) }
        }
        let v = spatial.reduce(1, *)
        let input = (0..<(n * o.inChannels * v)).map { _ in Float(RandomSample.normal(using: &rng)) }
        let dLogits = (0..<(n * o.classes * v)).map { _ in Float(RandomSample.normal(using: &rng)) }
        let auxiliary = net.layout.auxHeads.indices.map { h in
            (0..<(n * o.classes * o.levelSpatial(spatial, h + 1).reduce(1, *))).map { _ in Float(RandomSample.normal(using: &rng)) }
        }
        let logits = try Array(UnsafeBufferPointer(start: net.forward(input, batch: n, spatial: spatial), count: dLogits.count))
        let aux = net.auxiliaryLogits.enumerated().map { Array(UnsafeBufferPointer(start: $1, count: auxiliary[$0].count)) }
        let auxPointers = auxiliary.map { a -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: a.count); p.initialize(from: a, count: a.count); return p
        }
        defer { auxPointers.forEach { $0.deallocate() } }
        try net.backward(dLogits, auxiliary: auxPointers.map { UnsafePointer($0) })
        let grads = Array(UnsafeBufferPointer(start: net.arena.gradients.pointer, count: net.parameterCount))
        let blocks = net.cachedBlockOutputs()
        let ref = Self.storedActivationPath(net, input: input, batch: n, spatial: spatial, dLogits: dLogits, auxiliary: auxiliary)
        XCTAssertEqual(logits.map(\.bitPattern), ref.logits.map(\.bitPattern), "logits", line: line)
        XCTAssertEqual(aux.map { $0.map(\.bitPattern) }, ref.aux.map { $0.map(\.bitPattern) }, "auxiliary logits", line: line)
        XCTAssertEqual(grads.count, ref.grads.count, line: line)
        let differing = zip(grads, ref.grads).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differing, 0, "gradients differing from the stored-activation path", line: line)
        XCTAssertTrue(grads.contains { $0 != 0 }, line: line)
        // Block outputs (recomputed from z for cross-checks) = the stored activations.
        XCTAssertEqual(blocks.map { $0.values.map(\.bitPattern) }, ref.blocks.map { $0.map(\.bitPattern) }, "block outputs", line: line)
        // Inference (its own buffers, skips copied into one concat buffer) gives the same logits.
        var predicted = [Float](repeating: 0, count: logits.count)
        try net.predict(input, batch: n, spatial: spatial, into: &predicted)
        XCTAssertEqual(predicted.map(\.bitPattern), logits.map(\.bitPattern), "predict vs forward", line: line)
    }

    func testDefaultNetworkBatchTwo() throws {
        try compare(UNet3DOptions(inChannels: 2, classes: 3, features: [4, 8, 16]), batch: 2, spatial: [8, 12, 8])
    }

    func testBatchOneIm2colAndOddBlockCounts() throws {
        try compare(UNet3DOptions(inChannels: 1, classes: 2, features: [4, 6, 8]), batch: 1, spatial: [8, 8, 12], algorithm: .im2col)
        try compare(UNet3DOptions(inChannels: 1, classes: 2, features: [4, 6, 8], convsPerLevel: 3), batch: 2, spatial: [8, 8, 4])
        try compare(UNet3DOptions(inChannels: 1, classes: 2, features: [4, 6, 8], convsPerLevel: 1), batch: 2, spatial: [4, 8, 8])
        try compare(UNet3DOptions(inChannels: 1, classes: 2, features: [5], convsPerLevel: 2), batch: 2, spatial: [4, 6, 8])
    }

    func testDeepSupervisionAndAnisotropic() throws {
        var o = UNet3DOptions(inChannels: 1, classes: 3, features: [4, 8, 8, 12])
        o.deepSupervision = true
        try compare(o, batch: 2, spatial: [8, 8, 16])
        var a = UNet3DOptions(inChannels: 2, classes: 3, features: [4, 8, 16])
        a.kernelSizes = [[3, 3, 1], [3, 3, 3], [3, 3, 3]]
        a.poolStrides = [[2, 2, 1], [2, 2, 2]]
        a.deepSupervision = true
        try compare(a, batch: 2, spatial: [6, 12, 20])
    }
}
