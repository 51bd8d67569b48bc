import Tensor
#if canImport(Glibc)
import Glibc
#endif

/// Which kernel computes the U-Net's 3×3×3 convolutions.
public enum ConvAlgorithm: String, Sendable, CaseIterable {
    /// Tiled im2col + sgemm everywhere (the checked straightforward path, kept as the oracle).
    case im2col
    /// Winograd F(2,3) for every stride-1 3×3×3 layer (3.4× fewer multiplies), im2col elsewhere.
    case winograd
    /// Winograd for stride-1 layers with at least `ConvDispatch.winogradMinInChannels` input
    /// channels; im2col for the rest (the first layer has Cin = 1: Winograd's GEMMs would have K = 1).
    case auto
}

/// Chooses the kernel for each convolution of the U-Net.
enum ConvDispatch {
    /// Below this many input channels the Winograd GEMMs (K = Cin) are too thin to pay off;
    /// im2col's K = 27·Cin is still a reasonable GEMM.
    static let winogradMinInChannels = 4
    /// Workspace slot for the temporary input gradient when the caller accumulates.
    static let accumulateSlot = 4

    static func usesWinograd(_ g: Conv3dGeometry, _ algorithm: ConvAlgorithm) -> Bool {
        guard g.kernel == 3, g.stride == 1, g.padding == 1 else { return false }
        switch algorithm {
        case .im2col: return false
        case .winograd: return true
        case .auto: return g.inChannels >= winogradMinInChannels
        }
    }

    /// Whether `backward` can take x as z with its `inputActivation` (the F(4,3) or stride-2 Winograd
    /// weight gradient computing a = LeakyReLU(norm(z)) inside its input transform) instead of a
    /// written a: F(4,3) layers with the one-row AVX-512 input transform and stride-2 Winograd layers
    /// with the AVX-512 transforms; DRO_WINOGRAD_FUSED_ACTIVATION=off
    /// turns it off (`WinogradF43.fusesInputActivation`).
    static func fusesInputActivation(_ g: Conv3dGeometry, _ algorithm: ConvAlgorithm) -> Bool {
        if usesStride2Winograd(g, algorithm) { return WinogradStride2.fusesInputActivation }
        return usesWinograd(g, algorithm) && tile(g) == .f43 && WinogradF43.fusesInputActivation(width: g.inW)
    }

    /// Name of the kernel used for g (for profiles).
    static func path(_ g: Conv3dGeometry, _ algorithm: ConvAlgorithm, backward: Bool = false) -> String {
        if usesWinograd(g, algorithm) { return tile(g) == .f43 ? "winograd-f43" : "winograd" }
        if usesStride2Winograd(g, algorithm) { return "winograd-s2" }
        if backward, let k = polyphaseBackwardKernel(g, algorithm) {
            return k == .direct ? "polyphase-avx512" : "polyphase+sgemm"
        }
        return usesPolyphase(g, algorithm) ? ConvPolyphase.kernelName(g) : Conv3d.kernelName(g)
    }

    /// Winograd tile of a layer that `usesWinograd` (`WinogradTile.choose`; DRO_WINOGRAD_TILE overrides).
    static func tile(_ g: Conv3dGeometry) -> WinogradTile {
        WinogradTile.choose(cin: g.inChannels, cout: g.outChannels, d: g.inD, h: g.inH, w: g.inW, batch: g.batch)
    }

    /// Stride-2 3×3×3 layers with outputs of ≥ ~16² per plane run `ConvPolyphase` (no im2col;
    /// its products direct AVX-512 kernels on an AVX-512 CPU for Cout ≤ 64, else OpenBLAS GEMMs), except with
    /// `.im2col` (the oracle); `DRO_STRIDE2=im2col|polyphase|polyphase-sgemm` overrides the choice
    /// (back-to-back measurements, cross-checks; `ConvPolyphase.choice`).
    static func usesPolyphase(_ g: Conv3dGeometry, _ algorithm: ConvAlgorithm) -> Bool {
        algorithm != .im2col && ConvPolyphase.selected(g)
    }

    /// Stride-2 3×3×3 layers that run the polyphase Winograd algorithm (`WinogradStride2.selected`:
    /// large enough layers on an AVX-512 CPU; DRO_STRIDE2_WINOGRAD=auto|on|off), except with `.im2col`.
    static func usesStride2Winograd(_ g: Conv3dGeometry, _ algorithm: ConvAlgorithm) -> Bool {
        algorithm != .im2col && WinogradStride2.selected(g)
    }

    /// The polyphase kernel of g's backward, or nil for im2col + sgemm: the forward's path, except
    /// that stride-2 layers up to 128 output channels whose forward stays on im2col run the direct
    /// products (`ConvPolyphase.selectedBackwardKernel`; `DRO_STRIDE2_BACKWARD=forward` turns that off).
    static func polyphaseBackwardKernel(_ g: Conv3dGeometry, _ algorithm: ConvAlgorithm) -> ConvPolyphase.Kernel? {
        algorithm == .im2col ? nil : ConvPolyphase.selectedBackwardKernel(g)
    }

    /// Whether Winograd forwards followed by an instance norm gather the norm's statistics in
    /// their output stage (`WinogradConv3d.forward(…statistics:)`): only with
    /// `DRO_NORM_STATISTICS=fused`. Off by default: in back-to-back training steps it was not
    /// faster than the separate pass, and slower in 5 of 7 pairs (docs/performance.md, "Winograd
    /// layers against their limit").
    static let fusedNormStatistics: Bool = {
        guard let v = getenv("DRO_NORM_STATISTICS") else { return false }
        return String(cString: v) == "fused"
    }()

    /// Runs the forward; when `statistics` is given and the Winograd path runs with
    /// `fusedNormStatistics`, also writes the instance-norm statistics of y there and returns
    /// true (false: the caller computes them).
    @discardableResult
    static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, g: Conv3dGeometry, algorithm: ConvAlgorithm,
                        workspace: Workspace, winogradWorkspace: Workspace, threads: Int,
                        statistics: WinogradNormStatistics? = nil) -> Bool {
        if usesWinograd(g, algorithm), tile(g) == .f23, fusedNormStatistics, let statistics {
            WinogradConv3d.forward(x: x, weight: w, bias: bias, y: y, n: g.batch, cin: g.inChannels, cout: g.outChannels,
                                   d: g.inD, h: g.inH, width: g.inW, workspace: winogradWorkspace, statistics: statistics)
            return true
        } else if usesWinograd(g, algorithm) {
            tile(g).forward(x: x, weight: w, bias: bias, y: y, n: g.batch, cin: g.inChannels, cout: g.outChannels,
                            d: g.inD, h: g.inH, width: g.inW, workspace: winogradWorkspace)
        } else if usesStride2Winograd(g, algorithm) {
            WinogradStride2.forward(x: x, weight: w, bias: bias, y: y, g: g, workspace: winogradWorkspace, threads: threads)
        } else if usesPolyphase(g, algorithm) {
            ConvPolyphase.forward(x: x, w: w, bias: bias, y: y, g: g, workspace: workspace, threads: threads)
        } else {
            Conv3d.forward(x: x, w: w, bias: bias, y: y, g: g, workspace: workspace, threads: threads)
        }
        return false
    }

    /// dx OVERWRITTEN (or accumulated when `accumulateInput`; nil skips it); dw, dbias ACCUMULATED.
    static func backward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                         dbias: UnsafeMutablePointer<Float>?, g: Conv3dGeometry, algorithm: ConvAlgorithm,
                         workspace: Workspace, winogradWorkspace: Workspace, accumulateInput: Bool, threads: Int,
                         inputActivation: WinogradInputActivation? = nil) {
        precondition(inputActivation == nil || fusesInputActivation(g, algorithm),
                     "ConvDispatch.backward: input activation given where it is not fused")
        if usesStride2Winograd(g, algorithm) {
            WinogradStride2.backwardWeight(x: x, dy: dy, dweight: dw, dbias: dbias, g: g, workspace: winogradWorkspace,
                                           threads: threads, activation: inputActivation)
            guard let dx else { return }
            WinogradStride2.backwardInput(dy: dy, weight: w, dx: dx, g: g, workspace: winogradWorkspace,
                                          accumulate: accumulateInput, threads: threads)
            return
        }
        guard usesWinograd(g, algorithm) else {
            if let kernel = polyphaseBackwardKernel(g, algorithm) {
                ConvPolyphase.backward(x: x, w: w, dy: dy, dx: dx, dw: dw, dbias: dbias, g: g, workspace: workspace,
                                       accumulateInput: accumulateInput, kernel: kernel, threads: threads)
                return
            }
            Conv3d.backward(x: x, w: w, dy: dy, dx: dx, dw: dw, dbias: dbias, g: g, workspace: workspace,
                            accumulateInput: accumulateInput, threads: threads)
            return
        }
        let t = tile(g)
        t.backwardWeight(x: x, dy: dy, dweight: dw, dbias: dbias, n: g.batch, cin: g.inChannels, cout: g.outChannels,
                         d: g.inD, h: g.inH, width: g.inW, workspace: winogradWorkspace, activation: inputActivation)
        guard let dx else { return }
        let target = accumulateInput ? workspace.buffer(accumulateSlot, count: g.inputCount) : dx
        t.backwardInput(dy: dy, weight: w, dx: target, n: g.batch, cin: g.inChannels, cout: g.outChannels,
                        d: g.inD, h: g.inH, width: g.inW, workspace: winogradWorkspace)
        if accumulateInput {
            let tmp = target
            Parallel.forEach(0..<g.inputCount, threads: threads) { r in for i in r { dx[i] += tmp[i] } }
        }
    }
}
