/// Direct (naive) convolutions straight from the definitions, generic over the float type so
/// tests can run them in Double. They are the oracle for the im2col/GEMM and Winograd paths and
/// are far too slow for training.
public enum ConvNaive {
    /// y[n, co, o] = bias[co] + Σ_{ci, kd, kh, kw} w[co, ci, kd, kh, kw] · x[n, ci, o·s − p + k]
    /// per axis (its own kernel size, stride and padding; terms outside the input are 0).
    /// x [N, Cin, D, H, W], w [Cout, Cin, kD, kH, kW] → y [N, Cout, oD, oH, oW].
    @inlinable
    public static func conv3d<T: BinaryFloatingPoint>(x: [T], w: [T], bias: [T]?, g: Conv3dGeometry) -> [T] {
        var y = [T](repeating: 0, count: g.outputCount)
        let kD = g.kernelD, kH = g.kernelH, kW = g.kernelW
        for n in 0..<g.batch {
            for co in 0..<g.outChannels {
                for od in 0..<g.outD { for oh in 0..<g.outH { for ow in 0..<g.outW {
                    var s: T = bias?[co] ?? 0
                    for ci in 0..<g.inChannels {
                        for kd in 0..<kD { for kh in 0..<kH { for kw in 0..<kW {
                            let id = od * g.strideD - g.paddingD + kd
                            let ih = oh * g.strideH - g.paddingH + kh
                            let iw = ow * g.strideW - g.paddingW + kw
                            guard id >= 0, id < g.inD, ih >= 0, ih < g.inH, iw >= 0, iw < g.inW else { continue }
                            let xi = (((n * g.inChannels + ci) * g.inD + id) * g.inH + ih) * g.inW + iw
                            let wi = (((co * g.inChannels + ci) * kD + kd) * kH + kh) * kW + kw
                            s += w[wi] * x[xi]
                        }}}
                    }
                    y[(((n * g.outChannels + co) * g.outD + od) * g.outH + oh) * g.outW + ow] = s
                }}}
            }
        }
        return y
    }

    /// Transposed convolution with kernel = stride (sD, sH, sW) and no padding (PyTorch
    /// ConvTranspose3d): each input voxel i spreads to the block o = s ⊙ i + t, t < s per axis:
    /// y[n, co, s ⊙ i + t] = bias[co] + Σ_ci x[n, ci, i] · w[ci, co, t]. w [Cin, Cout, sD, sH, sW].
    @inlinable
    public static func convTranspose3d<T: BinaryFloatingPoint>(x: [T], w: [T], bias: [T]?,
                                                               g: ConvTranspose3dGeometry) -> [T] {
        var y = [T](repeating: 0, count: g.outputCount)
        let sD = g.strideD, sH = g.strideH, sW = g.strideW, taps = sD * sH * sW
        for n in 0..<g.batch {
            for co in 0..<g.outChannels {
                for i in 0..<g.outVoxels { y[(n * g.outChannels + co) * g.outVoxels + i] = bias?[co] ?? 0 }
            }
            for ci in 0..<g.inChannels {
                for d in 0..<g.inD { for h in 0..<g.inH { for ww in 0..<g.inW {
                    let xv = x[(((n * g.inChannels + ci) * g.inD + d) * g.inH + h) * g.inW + ww]
                    for co in 0..<g.outChannels {
                        for a in 0..<sD { for b in 0..<sH { for c in 0..<sW {
                            let wv = w[(ci * g.outChannels + co) * taps + (a * sH + b) * sW + c]
                            let o = ((sD * d + a) * g.outH + (sH * h + b)) * g.outW + (sW * ww + c)
                            y[(n * g.outChannels + co) * g.outVoxels + o] += xv * wv
                        }}}
                    }
                }}}
            }
        }
        return y
    }
}
