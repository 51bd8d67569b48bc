/// Shape of a 3D convolution over NCDHW tensors (cubic kernel, equal stride/padding per axis).
///
/// Output size per axis: (in + 2·padding − kernel) / stride + 1 (PyTorch's Conv3d, dilation 1).
/// The weight is [outChannels, inChannels, k, k, k] as in PyTorch.
public struct Conv3dGeometry: Equatable, Sendable, CustomStringConvertible {
    public var batch: Int
    public var inChannels: Int
    public var outChannels: Int
    public var inD: Int, inH: Int, inW: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(batch: Int, inChannels: Int, outChannels: Int, inD: Int, inH: Int, inW: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.batch = batch; self.inChannels = inChannels; self.outChannels = outChannels
        self.inD = inD; self.inH = inH; self.inW = inW
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    public var outD: Int { (inD + 2 * padding - kernel) / stride + 1 }
    public var outH: Int { (inH + 2 * padding - kernel) / stride + 1 }
    public var outW: Int { (inW + 2 * padding - kernel) / stride + 1 }
    public var inVoxels: Int { inD * inH * inW }
    public var outVoxels: Int { outD * outH * outW }
    /// Rows of the im2col matrix = GEMM reduction length K = Cin · k³.
    public var columnRows: Int { inChannels * kernel * kernel * kernel }
    public var weightCount: Int { outChannels * columnRows }
    public var inputCount: Int { batch * inChannels * inVoxels }
    public var outputCount: Int { batch * outChannels * outVoxels }
    /// True when the convolution is a plain matrix product (1×1×1, stride 1, no padding).
    public var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }
    /// Multiply-adds × 2 of the forward pass.
    public var forwardFLOPs: Double { 2 * Double(batch) * Double(outChannels) * Double(outVoxels) * Double(columnRows) }

    public var description: String {
        "conv k\(kernel) s\(stride) p\(padding) \(batch)×\(inChannels)×\(inD)×\(inH)×\(inW) → \(outChannels)×\(outD)×\(outH)×\(outW)"
    }
}

/// Shape of a transposed 3D convolution with kernel 2, stride 2, no padding (the U-Net's
/// upsampling): output = 2 × input per axis. Weight [inChannels, outChannels, 2, 2, 2] (PyTorch).
public struct ConvTranspose3dGeometry: Equatable, Sendable {
    public var batch: Int
    public var inChannels: Int
    public var outChannels: Int
    public var inD: Int, inH: Int, inW: Int
    public init(batch: Int, inChannels: Int, outChannels: Int, inD: Int, inH: Int, inW: Int) {
        self.batch = batch; self.inChannels = inChannels; self.outChannels = outChannels
        self.inD = inD; self.inH = inH; self.inW = inW
    }
    /// Kernel = stride = 2 per axis: 8 taps.
    public static let taps = 8
    public var outD: Int { 2 * inD }
    public var outH: Int { 2 * inH }
    public var outW: Int { 2 * inW }
    public var inVoxels: Int { inD * inH * inW }
    public var outVoxels: Int { 8 * inVoxels }
    public var weightCount: Int { inChannels * outChannels * 8 }
    public var inputCount: Int { batch * inChannels * inVoxels }
    public var outputCount: Int { batch * outChannels * outVoxels }
    public var forwardFLOPs: Double { 2 * Double(batch) * Double(inChannels) * Double(outChannels) * 8 * Double(inVoxels) }
}
