import Foundation
import Tensor
import Model

/// A plain Double reimplementation of the U-Net forward pass and the Dice+CE loss, written from
/// docs/method.md §4 and nnU-Net's formulas with the naive direct convolutions (ConvNaive) — the
/// oracle the finite differences run on. Parameters are looked up by name.
package struct UNetReference {
    let options: UNet3DOptions
    let names: [String]
    let shapes: [[Int]]

    package init(_ model: UNet3D) {
        options = model.options
        names = model.parameterTensors.map(\.name)
        shapes = model.parameterTensors.map(\.shape)
    }

    func split(_ flat: [Double]) -> [String: [Double]] {
        var out: [String: [Double]] = [:], o = 0
        for (n, s) in zip(names, shapes) { let c = s.reduce(1, *); out[n] = Array(flat[o..<(o + c)]); o += c }
        return out
    }

    func normLeaky(_ x: [Double], _ g: [Double], _ b: [Double], n: Int, c: Int, v: Int) -> [Double] {
        var y = x
        let eps = Double(options.normEps), slope = Double(options.leakySlope)
        for r in 0..<(n * c) {
            let s = x[(r * v)..<((r + 1) * v)]
            let m = s.reduce(0, +) / Double(v)
            let va = s.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v)
            for i in 0..<v {
                let u = g[r % c] * (x[r * v + i] - m) / (va + eps).squareRoot() + b[r % c]
                y[r * v + i] = u > 0 ? u : slope * u
            }
        }
        return y
    }

    /// Logits [N, classes, D, H, W].
    package func forward(_ flat: [Double], input: [Double], batch n: Int, spatial: [Int]) -> [Double] {
        forwardAll(flat, input: input, batch: n, spatial: spatial)[0]
    }

    /// Main logits, then (deep supervision) the logits of the heads on decoder levels 1, 2, ...
    package func forwardAll(_ flat: [Double], input: [Double], batch n: Int, spatial: [Int]) -> [[Double]] {
        let p = split(flat), f = options.features, levels = f.count
        var aux: [Int: [Double]] = [:]
        var x = input, dims = spatial, ch = options.inChannels
        var skips: [[Double]] = []
        // Options give [x, y, z] per level; the tensors are [D, H, W] = [z, y, x].
        let kernels = options.levelKernels.map { Array($0.reversed()) }
        let strides = options.levelStrides.map { Array($0.reversed()) }
        func block(_ name: String, level: Int, stride: [Int], cout: Int) {
            let k = kernels[level]
            let g = Conv3dGeometry(batch: n, inChannels: ch, outChannels: cout, inD: dims[0], inH: dims[1], inW: dims[2],
                                   kernelDHW: k, strideDHW: stride, paddingDHW: k.map { $0 / 2 })
            let z = ConvNaive.conv3d(x: x, w: p["\(name).conv.weight"]!, bias: p["\(name).conv.bias"]!, g: g)
            x = normLeaky(z, p["\(name).norm.weight"]!, p["\(name).norm.bias"]!, n: n, c: cout, v: g.outVoxels)
            dims = [g.outD, g.outH, g.outW]; ch = cout
        }
        for l in 0..<levels {
            for j in 0..<options.convsPerLevel {
                block("encoder.\(l).\(j)", level: l, stride: j == 0 && l > 0 ? strides[l - 1] : [1, 1, 1], cout: f[l])
            }
            skips.append(x)
        }
        for l in stride(from: levels - 2, through: 0, by: -1) {
            let g = ConvTranspose3dGeometry(batch: n, inChannels: ch, outChannels: f[l], inD: dims[0], inH: dims[1], inW: dims[2],
                                            strideDHW: strides[l])
            let u = ConvNaive.convTranspose3d(x: x, w: p["decoder.\(l).up.weight"]!, bias: p["decoder.\(l).up.bias"]!, g: g)
            dims = [g.outD, g.outH, g.outW]
            let v = g.outVoxels, skip = skips[l]
            var cat: [Double] = []
            for i in 0..<n {   // [up, skip] per sample
                cat += u[(i * f[l] * v)..<((i + 1) * f[l] * v)]
                cat += skip[(i * f[l] * v)..<((i + 1) * f[l] * v)]
            }
            x = cat; ch = 2 * f[l]
            for j in 0..<options.convsPerLevel { block("decoder.\(l).\(j)", level: l, stride: [1, 1, 1], cout: f[l]) }
            if options.deepSupervision, l > 0 {
                let ag = Conv3dGeometry(batch: n, inChannels: ch, outChannels: options.classes,
                                        inD: dims[0], inH: dims[1], inW: dims[2], kernel: 1)
                aux[l] = ConvNaive.conv3d(x: x, w: p["deep_supervision.\(l).weight"]!, bias: p["deep_supervision.\(l).bias"]!, g: ag)
            }
        }
        let hg = Conv3dGeometry(batch: n, inChannels: ch, outChannels: options.classes, inD: dims[0], inH: dims[1], inW: dims[2], kernel: 1)
        return [ConvNaive.conv3d(x: x, w: p["head.weight"]!, bias: p["head.bias"]!, g: hg)] + aux.keys.sorted().map { aux[$0]! }
    }

    /// Dice (foreground, per sample, smooth 1e-5) + CE, mean over the batch (+1 offset, see DiceCELoss).
    package static func loss(_ z: [Double], labels: [Int32], n: Int, cl: Int, v: Int, smooth: Double = 1e-5) -> Double {
        var total = 0.0
        for s in 0..<n {
            var ce = 0.0
            var tp = [Double](repeating: 0, count: cl), sp = tp, sy = tp
            for i in 0..<v {
                let zs = (0..<cl).map { z[(s * cl + $0) * v + i] }
                let m = zs.max()!, lse = m + log(zs.map { exp($0 - m) }.reduce(0, +))
                let y = Int(labels[s * v + i])
                ce -= (zs[y] - lse) / Double(v)
                for k in 0..<cl { let q = exp(zs[k] - lse); sp[k] += q; if k == y { tp[k] += q; sy[k] += 1 } }
            }
            var d = 0.0
            for k in 1..<cl { d += (2 * tp[k] + smooth) / (sp[k] + sy[k] + smooth) }
            total += ce + 1 - d / Double(cl - 1)
        }
        return total / Double(n)
    }
}
