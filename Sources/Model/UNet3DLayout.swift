import Tensor

/// The U-Net's layer list, from which the parameter arena's specs (names, shapes, initialisers)
/// and every layer's parameter indices are derived — sizes are never written twice.
struct UNet3DLayout {
    /// Conv3d (the level's kernel, padding k/2 per axis) → InstanceNorm(affine) → LeakyReLU.
    struct ConvBlock {
        var inChannels: Int, outChannels: Int
        /// Kernel and stride per tensor axis [D, H, W].
        var kernel: [Int], stride: [Int]
        var weight: Int, bias: Int, gamma: Int, beta: Int   // parameter indices
    }
    /// ConvTranspose3d with kernel = stride per tensor axis [D, H, W] (2×2×2 by default) (+ bias).
    struct Up { var inChannels: Int, outChannels: Int, stride: [Int], weight: Int, bias: Int }
    /// Final 1×1×1 conv.
    struct Head { var inChannels: Int, classes: Int, weight: Int, bias: Int }

    var encoder: [[ConvBlock]] = []   // [level][block]
    var up: [Up] = []                 // [level] for levels 0..<L−1: from level+1 to level
    var decoder: [[ConvBlock]] = []   // [level][block] for levels 0..<L−1
    var head: Head
    /// Deep-supervision heads of decoder levels 1..<L−1 (index l − 1); empty without it.
    var auxHeads: [Head] = []
    var specs: [ParameterSpec] = []

    /// nnU-Net's InitWeights_He(neg_slope=1e-2).
    static let initSlope = 0.01

    init(_ o: UNet3DOptions) {
        var specs: [ParameterSpec] = []
        func add(_ name: String, _ shape: [Int], _ initializer: ParameterInit) -> Int {
            specs.append(ParameterSpec(name: name, shape: shape, initializer: initializer))
            return specs.count - 1
        }
        func block(_ name: String, _ cin: Int, _ cout: Int, _ kernel: [Int], _ stride: [Int]) -> ConvBlock {
            ConvBlock(inChannels: cin, outChannels: cout, kernel: kernel, stride: stride,
                      weight: add("\(name).conv.weight", [cout, cin] + kernel,
                                  .kaimingNormal(fanIn: cin * kernel.reduce(1, *), negativeSlope: Self.initSlope)),
                      bias: add("\(name).conv.bias", [cout], .zeros),
                      gamma: add("\(name).norm.weight", [cout], .ones),
                      beta: add("\(name).norm.bias", [cout], .zeros))
        }
        let f = o.features, levels = f.count
        var enc: [[ConvBlock]] = []
        for l in 0..<levels {
            var blocks: [ConvBlock] = []
            for j in 0..<o.convsPerLevel {
                let cin = j == 0 ? (l == 0 ? o.inChannels : f[l - 1]) : f[l]
                // nnU-Net v2's PlainConvUNet: the first conv of a stage below the first is strided.
                let stride = (j == 0 && l > 0) ? o.strideDHW(l - 1) : [1, 1, 1]
                blocks.append(block("encoder.\(l).\(j)", cin, f[l], o.kernelDHW(l), stride))
            }
            enc.append(blocks)
        }
        var ups: [Up] = [], dec: [[ConvBlock]] = []
        // Decoder parameters listed from the deepest level up, in execution order.
        var upByLevel = [Up?](repeating: nil, count: max(0, levels - 1))
        var decByLevel = [[ConvBlock]](repeating: [], count: max(0, levels - 1))
        for l in stride(from: levels - 2, through: 0, by: -1) {
            // torch ConvTranspose3d weight [Cin, Cout, sD, sH, sW]: fan_in = Cout·taps (dim 1 × receptive field).
            let s = o.strideDHW(l)
            upByLevel[l] = Up(inChannels: f[l + 1], outChannels: f[l], stride: s,
                              weight: add("decoder.\(l).up.weight", [f[l + 1], f[l]] + s,
                                          .kaimingNormal(fanIn: f[l] * s.reduce(1, *), negativeSlope: Self.initSlope)),
                              bias: add("decoder.\(l).up.bias", [f[l]], .zeros))
            var blocks: [ConvBlock] = []
            for j in 0..<o.convsPerLevel {
                blocks.append(block("decoder.\(l).\(j)", j == 0 ? 2 * f[l] : f[l], f[l], o.kernelDHW(l), [1, 1, 1]))
            }
            decByLevel[l] = blocks
        }
        for l in 0..<(levels - 1) { ups.append(upByLevel[l]!); dec.append(decByLevel[l]) }
        head = Head(inChannels: f[0], classes: o.classes,
                    weight: add("head.weight", [o.classes, f[0], 1, 1, 1], .kaimingNormal(fanIn: f[0], negativeSlope: Self.initSlope)),
                    bias: add("head.bias", [o.classes], .zeros))
        if o.deepSupervision {
            // Listed after the main head so networks without it keep their parameter order.
            for l in o.supervisedLevels where l > 0 {
                auxHeads.append(Head(inChannels: f[l], classes: o.classes,
                                     weight: add("deep_supervision.\(l).weight", [o.classes, f[l], 1, 1, 1],
                                                 .kaimingNormal(fanIn: f[l], negativeSlope: Self.initSlope)),
                                     bias: add("deep_supervision.\(l).bias", [o.classes], .zeros)))
            }
        }
        encoder = enc; up = ups; decoder = dec
        self.specs = specs
    }
}
