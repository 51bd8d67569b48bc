import CKernels
import Foundation

/// Soft Dice + cross-entropy on softmax(logits), equal weights — nnU-Net v2's DC_and_CE_loss with
/// SoftDiceLoss(do_bg=False, smooth=1e-5) and RobustCrossEntropyLoss:
///
///   p = softmax over classes; y = one-hot labels; per sample n and foreground class c ≥ 1
///   D_nc = (2·Σ_v p·y + s) / (Σ_v p + Σ_v y + s)          (= (2tp + s)/(2tp + fp + fn + s))
///   Dice = mean over n and c ≥ 1 of D_nc                   (batch Dice: sums over n first, mean over c)
///   CE_n = −mean_v log p[y_v, v]
///   ℓ_n  = λ_CE·CE_n + λ_D·(1 − mean_c D_nc)               (per-sample loss, what the sampler records)
///   loss = mean_n w_n·ℓ_n  (w ≡ 1 without importance weights) — equals λ_CE·CE + λ_D·(1 − Dice).
/// λ_D = `diceWeight`, λ_CE = `ceWeight` (`training.loss.dice_weight` / `ce_weight`; 1 and 1 by
/// default, nnU-Net's equal weights).
///
/// nnU-Net returns CE − Dice; we add the constant 1 so the loss is ≥ 0 and per-sample values lie
/// in [0, 1 + CE] (docs/method.md §1.3 and §3: L_init = 2 is an upper bound). Gradients are identical.
/// Batch Dice (nnU-Net's `batch_dice`) changes the Dice term of the loss and its gradient; the
/// per-sample values still use per-sample Dice (docs/method.md §1.8). Batch Dice with importance weights
/// is rejected: the batch term does not decompose over samples.
public struct DiceCELoss: Sendable {
    /// nnU-Net's smooth term for the soft Dice.
    public static let defaultSmooth = 1e-5
    public var smooth: Double
    public var batchDice: Bool
    /// λ_D, weight of the Dice term 1 − Dice.
    public var diceWeight: Double
    /// λ_CE, weight of the cross-entropy term.
    public var ceWeight: Double

    public init(smooth: Double = defaultSmooth, batchDice: Bool = false, diceWeight: Double = 1, ceWeight: Double = 1) {
        self.smooth = smooth
        self.batchDice = batchDice
        self.diceWeight = diceWeight
        self.ceWeight = ceWeight
    }

    public struct Output: Sendable {
        /// mean_n w_n·ℓ_n (batch Dice: λ_CE·mean CE + λ_D·(1 − batch Dice)).
        public var loss: Double
        /// ℓ_n = λ_CE·CE_n + λ_D·(1 − Dice_n) for each sample (without importance weights).
        public var perSample: [Double]
        /// Soft Dice per sample (mean over foreground classes).
        public var perSampleDice: [Double]
        public var perSampleCrossEntropy: [Double]
    }

    /// logits [N, C, V], labels [N, V] with values in 0..<C → loss; gradient [N, C, V] (dloss/dlogits)
    /// OVERWRITTEN when given. `weights` [N]: importance weights w_n. Needs C ≥ 2.
    public func evaluate(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                         batch: Int, classes: Int, voxels: Int, weights: [Double]? = nil,
                         gradient: UnsafeMutablePointer<Float>?, workspace: Workspace,
                         threads: Int = Parallel.defaultThreads) throws -> Output {
        guard classes >= 2 else { throw LossError.tooFewClasses(classes) }
        if let weights, weights.count != batch { throw LossError.weightCount(found: weights.count, batch: batch) }
        if weights != nil && batchDice { throw LossError.weightsWithBatchDice }
        for n in 0..<batch {
            for v in 0..<voxels {
                let l = labels[n * voxels + v]
                if l < 0 || Int(l) >= classes { throw LossError.labelOutOfRange(value: Int(l), sample: n, voxel: v, classes: classes) }
            }
        }
        let count = batch * classes * voxels
        let p = gradient ?? workspace.buffer(DiceCELoss.slot, count: count)
        // Per-sample sums: intersection Σp·y, Σp, Σy per class; Σ −log p_y.
        let (inter, sumP, sumY, nllSum) = Self.softmaxStatistics(logits: logits, labels: labels, p: p, batch: batch,
                                                                  classes: classes, voxels: voxels, threads: threads)
        let ce = (0..<batch).map { nllSum[$0] / Double(voxels) }
        let fg = Double(classes - 1)
        func dice(_ i: Double, _ sp: Double, _ sy: Double) -> Double { (2 * i + smooth) / max(sp + sy + smooth, 1e-8) }
        var sampleDice = [Double](repeating: 0, count: batch)
        for n in 0..<batch {
            var d = 0.0
            for c in 1..<classes { d += dice(inter[n * classes + c], sumP[n * classes + c], sumY[n * classes + c]) }
            sampleDice[n] = d / fg
        }
        let (lambdaD, lambdaCE) = (diceWeight, ceWeight)
        let perSample = (0..<batch).map { lambdaCE * ce[$0] + lambdaD * (1 - sampleDice[$0]) }
        let w = weights ?? [Double](repeating: 1, count: batch)
        var loss: Double
        // Dice term coefficients: dLoss/dp[n, c, v] (Dice part) = a_nc·y − b_nc for c ≥ 1.
        var coefY = [Double](repeating: 0, count: batch * classes), coefP = coefY
        if batchDice {
            var batchD = 0.0
            for c in 1..<classes {
                var i = 0.0, sp = 0.0, sy = 0.0
                for n in 0..<batch { i += inter[n * classes + c]; sp += sumP[n * classes + c]; sy += sumY[n * classes + c] }
                let d = dice(i, sp, sy), den = max(sp + sy + smooth, 1e-8)
                batchD += d
                for n in 0..<batch {
                    coefY[n * classes + c] = -lambdaD * 2 / (fg * den); coefP[n * classes + c] = -lambdaD * d / (fg * den)
                }
            }
            loss = lambdaCE * ce.reduce(0, +) / Double(batch) + lambdaD * (1 - batchD / fg)
        } else {
            loss = 0
            for n in 0..<batch {
                loss += w[n] * perSample[n]
                let a = lambdaD * w[n] / Double(batch)
                for c in 1..<classes {
                    let k = n * classes + c
                    let den = max(sumP[k] + sumY[k] + smooth, 1e-8), d = dice(inter[k], sumP[k], sumY[k])
                    coefY[k] = -a * 2 / (fg * den); coefP[k] = -a * d / (fg * den)
                }
            }
            loss /= Double(batch)
        }
        if let gradient {
            writeGradient(p: gradient, labels: labels, batch: batch, classes: classes, voxels: voxels,
                          ceScale: (0..<batch).map { lambdaCE * w[$0] / Double(batch * voxels) },
                          coefY: coefY, coefP: coefP, threads: threads)
        }
        return Output(loss: loss, perSample: perSample, perSampleDice: sampleDice, perSampleCrossEntropy: ce)
    }

    /// Voxels per block of `softmaxStatistics` (a fixed split: the sums do not depend on the
    /// thread count).
    static let statisticsBlock = 4096

    /// p = softmax over classes of the logits (OVERWRITTEN; the Float operations of
    /// `ChannelSoftmax.forward`) and, in the same pass, per sample and class Σ_v p·y, Σ_v p, Σ_v y,
    /// and per sample Σ_v −log p_y = log Σ_c exp(x_c − m) − (x_y − m) (from the logits, not from
    /// the rounded p). Runs of `tile` voxels class by class (loops over voxels the compiler
    /// vectorises, instead of one voxel's classes at a time); Σ p in Float over a run, then Double.
    /// Each block of `statisticsBlock` voxels sums in Double, blocks are added in order: the same
    /// bits for any thread count.
    static func softmaxStatistics(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, p: UnsafeMutablePointer<Float>,
                                  batch: Int, classes: Int, voxels: Int, threads: Int,
                                  kernel: SoftmaxKernel? = softmaxKernel)
        -> (inter: [Double], sumP: [Double], sumY: [Double], nll: [Double]) {
        let blocks = (voxels + statisticsBlock - 1) / statisticsBlock, stride = 3 * classes + 1
        var inter = [Double](repeating: 0, count: batch * classes), sumP = inter, sumY = inter
        var nll = [Double](repeating: 0, count: batch)
        guard voxels > 0 else { return (inter, sumP, sumY, nll) }
        let partials = UnsafeMutablePointer<Double>.allocate(capacity: batch * blocks * stride)
        defer { partials.deallocate() }
        Parallel.forEach(0..<(batch * blocks), threads: threads) { items in
            // Per run: the running max, then the sum of exponentials, per voxel.
            let mx = UnsafeMutablePointer<Float>.allocate(capacity: 2 * tile + max(tile, classes))
            defer { mx.deallocate() }
            let sum = mx + tile, inv = mx + 2 * tile
            for item in items {
                let n = item / blocks, b = item % blocks
                let xs = logits + n * classes * voxels, ps = p + n * classes * voxels, ls = labels + n * voxels
                // [Σ p·y (classes), Σ p (classes), Σ y (classes), Σ −log p_y]
                let acc = partials + item * stride
                acc.initialize(repeating: 0, count: stride)
                var v0 = b * statisticsBlock
                let end = min(voxels, (b + 1) * statisticsBlock)
                /// Σ p·y, Σ y and Σ −log p_y of a run whose p, mx and sum are computed. `productLog`:
                /// Σ log sum[i] as the log of Double products of the sums (each in [1, classes], so a
                /// product stays far from overflow until it passes 1e250; one log per ~250 voxels
                /// at 9 classes instead of one per voxel; the Double product rounds ≤ 2^−53 per factor).
                func labelTerms(t: Int, v0: Int, productLog: Bool) {
                    let x0 = xs + v0, p0 = ps + v0
                    var nl = 0.0, product = 1.0
                    for i in 0..<t {
                        let y = Int(ls[v0 + i])
                        acc[y] += Double(p0[y * voxels + i])
                        acc[2 * classes + y] += 1
                        if productLog {
                            product *= Double(sum[i])
                            if product > 1e250 { nl += log(product); product = 1 }
                            nl -= Double(x0[y * voxels + i] - mx[i])
                        } else {
                            nl += log(Double(sum[i])) - Double(x0[y * voxels + i] - mx[i])
                        }
                    }
                    if productLog { nl += log(product) }
                    acc[3 * classes] += nl
                }
                while v0 < end {
                    let t = min(tile, end - v0)
                    let x0 = xs + v0, p0 = ps + v0
                    if let kernel {
                        // Vectorised exp (C kernel), per-class Σ p in lanes.
                        let sp = inv
                        switch kernel {
                        case .avx512: dro_softmax_run_avx512(x0, p0, voxels, classes, t, mx, sum, sp)
                        case .avx2: dro_softmax_run_avx2(x0, p0, voxels, classes, t, mx, sum, sp)
                        }
                        for c in 0..<classes { acc[classes + c] += Double(sp[c]) }
                        labelTerms(t: t, v0: v0, productLog: true)
                        v0 += t
                        continue
                    }
                    for i in 0..<t { mx[i] = x0[i] }
                    for c in 1..<classes {
                        let xc = x0 + c * voxels
                        for i in 0..<t { mx[i] = max(mx[i], xc[i]) }
                    }
                    for i in 0..<t { sum[i] = 0 }
                    for c in 0..<classes {
                        let xc = x0 + c * voxels, pc = p0 + c * voxels
                        for i in 0..<t { let e = expf(xc[i] - mx[i]); pc[i] = e; sum[i] += e }
                    }
                    for i in 0..<t { inv[i] = 1 / sum[i] }
                    for c in 0..<classes {
                        let pc = p0 + c * voxels
                        var sp: Float = 0
                        for i in 0..<t { let q = pc[i] * inv[i]; pc[i] = q; sp += q }
                        acc[classes + c] += Double(sp)
                    }
                    labelTerms(t: t, v0: v0, productLog: false)
                    v0 += t
                }
            }
        }
        for n in 0..<batch {
            for b in 0..<blocks {
                let acc = partials + (n * blocks + b) * stride
                for c in 0..<classes {
                    inter[n * classes + c] += acc[c]
                    sumP[n * classes + c] += acc[classes + c]
                    sumY[n * classes + c] += acc[2 * classes + c]
                }
                nll[n] += acc[3 * classes]
            }
        }
        return (inter, sumP, sumY, nll)
    }

    enum SoftmaxKernel { case avx512, avx2 }

    /// The C softmax run (`dro_softmax_run_*`: vectorised exp within 2 ulp, Σ p in lanes) where the
    /// CPU has AVX-512 or AVX2 (the default); nil: the Swift loop with libm `expf` (the portable
    /// path: no AVX2, `DRO_PORTABLE_KERNELS=1`, or `DRO_LOSS_EXP=libm`).
    static let softmaxKernel: SoftmaxKernel? = {
        if let v = getenv("DRO_LOSS_EXP"), String(cString: v) == "libm" { return nil }
        return CPUFeatures.avx512 ? .avx512 : (CPUFeatures.avx2FMA ? .avx2 : nil)
    }()

    /// Voxels per run of the loss passes (their per-voxel scratch stays in L1).
    static let tile = 256

    /// In place on p: dz_c = p_c·(g_c − Σ_k p_k g_k) + ceScale·(p_c − y_c), with the Dice gradient
    /// w.r.t. p g_c = coefY·y_c − coefP (c ≥ 1; g_0 = 0). Runs of `tile` voxels class by class:
    /// with ĝ_c = −coefP_c (c ≥ 1, ĝ_0 = 0) for every class, dot = Σ_c p_c ĝ_c + p_y·coefY_y and
    /// dz_c = p_c·(ĝ_c − dot + ceScale), then the label's class adds p_y·coefY_y − ceScale.
    private func writeGradient(p: UnsafeMutablePointer<Float>, labels: UnsafePointer<Int32>, batch: Int,
                               classes: Int, voxels: Int, ceScale: [Double], coefY: [Double], coefP: [Double],
                               threads: Int) {
        let tile = Self.tile, runs = (voxels + tile - 1) / tile
        for n in 0..<batch {
            let ps = p + n * classes * voxels, ls = labels + n * voxels
            let cy = (0..<classes).map { Float(coefY[n * classes + $0]) }
            let gh = (0..<classes).map { $0 == 0 ? Float(0) : -Float(coefP[n * classes + $0]) }
            let k = Float(ceScale[n])
            cy.withUnsafeBufferPointer { cy in gh.withUnsafeBufferPointer { gh in
                Parallel.forEach(0..<runs, threads: threads) { rs in
                    let dot = UnsafeMutablePointer<Float>.allocate(capacity: 2 * tile)
                    defer { dot.deallocate() }
                    let py = dot + tile
                    for r in rs {
                        let v0 = r * tile, t = min(tile, voxels - v0), p0 = ps + v0
                        for i in 0..<t {
                            let y = Int(ls[v0 + i])
                            py[i] = p0[y * voxels + i]
                            dot[i] = y == 0 ? 0 : py[i] * cy[y]
                        }
                        for c in 1..<classes {
                            let pc = p0 + c * voxels, g = gh[c]
                            for i in 0..<t { dot[i] += pc[i] * g }
                        }
                        for c in 0..<classes {
                            let pc = p0 + c * voxels, g = gh[c] + k
                            for i in 0..<t { pc[i] = pc[i] * (g - dot[i]) }
                        }
                        for i in 0..<t {
                            let y = Int(ls[v0 + i])
                            p0[y * voxels + i] += (y == 0 ? 0 : py[i] * cy[y]) - k
                        }
                    }
                }
            }}
        }
    }

    static let slot = 3
}

/// Invalid loss inputs: each description names the value found and what is allowed.
public enum LossError: Error, CustomStringConvertible, Equatable {
    case tooFewClasses(Int)
    case weightCount(found: Int, batch: Int)
    case weightsWithBatchDice
    case labelOutOfRange(value: Int, sample: Int, voxel: Int, classes: Int)

    public var description: String {
        switch self {
        case .tooFewClasses(let c): return "loss: classes = \(c); Dice+CE needs at least 2 (background + one foreground)"
        case .weightCount(let f, let b): return "loss: \(f) importance weights given for a batch of \(b); need one per sample"
        case .weightsWithBatchDice: return "loss: importance weights need per-sample Dice; batch Dice is on"
        case .labelOutOfRange(let v, let n, let i, let c):
            return "loss: label \(v) at sample \(n), voxel \(i); allowed 0...\(c - 1)"
        }
    }
}
