/// Shape of a 3D convolution over NCDHW tensors, with a kernel size, stride and zero padding per
/// axis (D, H, W).
///
/// Output size per axis: (in + 2·padding − kernel) / stride + 1 (PyTorch's Conv3d, dilation 1).
/// The weight is [outChannels, inChannels, kD, kH, kW] as in PyTorch.
public struct Conv3dGeometry: Equatable, Sendable, CustomStringConvertible {
    public var batch: Int
    public var inChannels: Int
    public var outChannels: Int
    public var inD: Int, inH: Int, inW: Int
    /// Kernel size per axis (D, H, W).
    public var kernelD: Int, kernelH: Int, kernelW: Int
    /// Stride per axis (D, H, W).
    public var strideD: Int, strideH: Int, strideW: Int
    /// Zero padding per axis and side (D, H, W).
    public var paddingD: Int, paddingH: Int, paddingW: Int

    /// Cubic kernel, equal stride and padding on every axis.
    public init(batch: Int, inChannels: Int, outChannels: Int, inD: Int, inH: Int, inW: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.init(batch: batch, inChannels: inChannels, outChannels: outChannels, inD: inD, inH: inH, inW: inW,
                  kernelDHW: [kernel, kernel, kernel], strideDHW: [stride, stride, stride],
                  paddingDHW: [padding, padding, padding])
    }

    /// Kernel, stride and padding per axis, each given as [D, H, W].
    public init(batch: Int, inChannels: Int, outChannels: Int, inD: Int, inH: Int, inW: Int,
                kernelDHW k: [Int], strideDHW s: [Int], paddingDHW p: [Int]) {
        precondition(k.count == 3 && s.count == 3 && p.count == 3, "kernel, stride and padding need 3 axes each")
        self.batch = batch; self.inChannels = inChannels; self.outChannels = outChannels
        self.inD = inD; self.inH = inH; self.inW = inW
        kernelD = k[0]; kernelH = k[1]; kernelW = k[2]
        strideD = s[0]; strideH = s[1]; strideW = s[2]
        paddingD = p[0]; paddingH = p[1]; paddingW = p[2]
    }

    /// The kernel size when it is the same on every axis, else 0 (so tests such as
    /// `kernel == 3` that select the cubic kernels fail for per-axis shapes). Setting it sets
    /// every axis.
    public var kernel: Int {
        get { kernelD == kernelH && kernelH == kernelW ? kernelD : 0 }
        set { kernelD = newValue; kernelH = newValue; kernelW = newValue }
    }
    /// The stride when it is the same on every axis, else 0. Setting it sets every axis.
    public var stride: Int {
        get { strideD == strideH && strideH == strideW ? strideD : 0 }
        set { strideD = newValue; strideH = newValue; strideW = newValue }
    }
    /// The padding when it is the same on every axis, else −1. Setting it sets every axis.
    public var padding: Int {
        get { paddingD == paddingH && paddingH == paddingW ? paddingD : -1 }
        set { paddingD = newValue; paddingH = newValue; paddingW = newValue }
    }
    /// True when kernel, stride and padding are each the same on every axis.
    public var isCubic: Bool { kernel != 0 && stride != 0 && padding >= 0 }

    public var outD: Int { (inD + 2 * paddingD - kernelD) / strideD + 1 }
    public var outH: Int { (inH + 2 * paddingH - kernelH) / strideH + 1 }
    public var outW: Int { (inW + 2 * paddingW - kernelW) / strideW + 1 }
    public var inVoxels: Int { inD * inH * inW }
    public var outVoxels: Int { outD * outH * outW }
    /// Taps of the kernel: kD · kH · kW.
    public var kernelVolume: Int { kernelD * kernelH * kernelW }
    /// Rows of the im2col matrix = GEMM reduction length K = Cin · kD · kH · kW.
    public var columnRows: Int { inChannels * kernelVolume }
    public var weightCount: Int { outChannels * columnRows }
    public var inputCount: Int { batch * inChannels * inVoxels }
    public var outputCount: Int { batch * outChannels * outVoxels }
    /// True when the convolution is a plain matrix product (1×1×1, stride 1, no padding).
    public var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }
    /// Multiply-adds × 2 of the forward pass.
    public var forwardFLOPs: Double { 2 * Double(batch) * Double(outChannels) * Double(outVoxels) * Double(columnRows) }

    public var description: String {
        let shape = isCubic ? "k\(kernel) s\(stride) p\(padding)"
            : "k\(kernelD)×\(kernelH)×\(kernelW) s\(strideD)×\(strideH)×\(strideW) p\(paddingD)×\(paddingH)×\(paddingW)"
        return "conv \(shape) \(batch)×\(inChannels)×\(inD)×\(inH)×\(inW) → \(outChannels)×\(outD)×\(outH)×\(outW)"
    }
}

/// Shape of a transposed 3D convolution whose kernel equals its stride on every axis and that has
/// no padding (the U-Net's upsampling): output = stride × input per axis, the taps of different
/// input voxels never overlap. Weight [inChannels, outChannels, sD, sH, sW] (PyTorch). The default
/// stride 2 on every axis is the kernel-2 stride-2 upsampling of the isotropic U-Net.
public struct ConvTranspose3dGeometry: Equatable, Sendable {
    public var batch: Int
    public var inChannels: Int
    public var outChannels: Int
    public var inD: Int, inH: Int, inW: Int
    /// Kernel size = stride per axis (D, H, W), each ≥ 1.
    public var strideD = 2, strideH = 2, strideW = 2
    public init(batch: Int, inChannels: Int, outChannels: Int, inD: Int, inH: Int, inW: Int) {
        self.batch = batch; self.inChannels = inChannels; self.outChannels = outChannels
        self.inD = inD; self.inH = inH; self.inW = inW
    }
    /// Per-axis kernel = stride, given as [D, H, W].
    public init(batch: Int, inChannels: Int, outChannels: Int, inD: Int, inH: Int, inW: Int, strideDHW s: [Int]) {
        precondition(s.count == 3 && s.allSatisfy { $0 >= 1 }, "transposed conv stride needs 3 axes, each ≥ 1")
        self.init(batch: batch, inChannels: inChannels, outChannels: outChannels, inD: inD, inH: inH, inW: inW)
        strideD = s[0]; strideH = s[1]; strideW = s[2]
    }
    /// Taps of the kernel 2 × 2 × 2 (the isotropic case).
    public static let taps = 8
    /// True for kernel = stride = 2 on every axis (the case the fast scatter/gather kernels serve).
    public var isStride2: Bool { strideD == 2 && strideH == 2 && strideW == 2 }
    /// Taps of this geometry's kernel: sD · sH · sW.
    public var kernelVolume: Int { strideD * strideH * strideW }
    public var outD: Int { strideD * inD }
    public var outH: Int { strideH * inH }
    public var outW: Int { strideW * inW }
    public var inVoxels: Int { inD * inH * inW }
    public var outVoxels: Int { kernelVolume * inVoxels }
    public var weightCount: Int { inChannels * outChannels * kernelVolume }
    public var inputCount: Int { batch * inChannels * inVoxels }
    public var outputCount: Int { batch * outChannels * outVoxels }
    public var forwardFLOPs: Double {
        2 * Double(batch) * Double(inChannels) * Double(outChannels) * Double(kernelVolume) * Double(inVoxels)
    }
}
