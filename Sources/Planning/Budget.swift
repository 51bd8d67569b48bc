import Foundation

/// One network dro-plan considers: a patch with its nnU-Net topology and a feature ladder.
public struct Candidate: Equatable, Sendable {
    public var topology: PlanningRules.Topology
    public var features: [Int]
    public var patch: [Int] { topology.patch }
    public var voxels: Int { patch.reduce(1, *) }

    public init(topology: PlanningRules.Topology, features: [Int]) {
        self.topology = topology
        self.features = features
    }

    /// Multiply-adds of one forward pass of one sample through the U-Net (3D convolutions,
    /// transposed convolutions and the 1×1×1 head), for ranking candidates before they are timed.
    public func forwardMACs(inChannels: Int, classes: Int) -> Double {
        var size = patch.map(Double.init)
        var sizes: [[Double]] = [size]
        for s in topology.strides {
            size = (0..<3).map { size[$0] / Double(s[$0]) }
            sizes.append(size)
        }
        func vox(_ l: Int) -> Double { sizes[l].reduce(1, *) }
        func k(_ l: Int) -> Double { Double(topology.kernels[l].reduce(1, *)) }
        var macs = 0.0
        for l in 0..<features.count {
            let cin = l == 0 ? inChannels : features[l - 1]
            macs += vox(l) * k(l) * Double(cin * features[l] + features[l] * features[l])   // encoder
            if l < features.count - 1 {
                let up = Double(topology.strides[l].reduce(1, *))
                macs += vox(l + 1) * up * Double(features[l + 1] * features[l])              // transposed conv
                macs += vox(l) * k(l) * Double(2 * features[l] * features[l] + features[l] * features[l])
            }
        }
        return macs + vox(0) * Double(features[0] * classes)
    }

    public var label: String {
        "\(patch.map(String.init).joined(separator: "×")) \(features)"
    }
}

/// What a training run of one candidate costs, and how many epochs fit a budget.
///
/// Predicted seconds for E epochs = startup + E·I·(step + allreduce) + V(E)·validation, with
/// I = ⌈N / (R·B)⌉ iterations per epoch (dro-train's default: one pass over the N training
/// cases per epoch), V(E) = ⌊E / val_every⌋ (+1 when E is not a multiple: dro-train validates
/// after the last epoch too), validation = the sliding-window forward passes over the
/// validation cases (split over the ranks), and allreduce = docs/scaling.md's ring model.
public struct TimeModel: Equatable, Sendable {
    public var trainingCases: Int
    public var batch: Int
    public var ranks: Int
    /// Seconds to read and preprocess every case before training starts.
    public var startupSeconds: Double
    /// Sliding windows over all validation cases for one validation.
    public var validationWindows: Int

    /// Ring allreduce of docs/scaling.md ("A model on paper for R machines"): 2(R−1)/R·S/bandwidth
    /// + 2(R−1)·α with S = 4 bytes × parameters, 10 Gbit/s (1.25 GB/s) and α = 50 µs (Ethernet, TCP).
    public static let bandwidthBytesPerSecond = 1.25e9
    public static let latencySeconds = 50e-6

    public init(trainingCases: Int, batch: Int, ranks: Int, startupSeconds: Double, validationWindows: Int) {
        self.trainingCases = trainingCases; self.batch = batch; self.ranks = ranks
        self.startupSeconds = startupSeconds; self.validationWindows = validationWindows
    }

    public var iterationsPerEpoch: Int { max(1, (trainingCases + ranks * batch - 1) / (ranks * batch)) }

    public static func allreduceSeconds(parameters: Int, ranks: Int) -> Double {
        guard ranks > 1 else { return 0 }
        let r = Double(ranks), bytes = 4 * Double(parameters)
        return 2 * (r - 1) / r * bytes / bandwidthBytesPerSecond + 2 * (r - 1) * latencySeconds
    }

    /// Validations in E epochs at val_every V (every V epochs and after the last).
    public static func validations(epochs: Int, every: Int) -> Int {
        epochs / every + (epochs % every == 0 ? 0 : 1)
    }

    /// Seconds of one validation at `forwardSeconds` per window.
    public func validationSeconds(forwardSeconds: Double) -> Double {
        Double(validationWindows) * forwardSeconds / Double(ranks)
    }

    /// nnU-Net checks a pseudo Dice on a few batches each epoch; dro-train runs a full
    /// sliding-window validation, so val_every is the smallest value ≥ 10 that keeps validation
    /// under `validationShare` of the time spent in training steps.
    public static let validationShare = 0.10
    public static let defaultValidationEvery = 10

    public func validationEvery(stepSeconds: Double, forwardSeconds: Double) -> Int {
        let epoch = Double(iterationsPerEpoch) * stepSeconds
        let v = validationSeconds(forwardSeconds: forwardSeconds)
        guard epoch > 0 else { return TimeModel.defaultValidationEvery }
        return max(TimeModel.defaultValidationEvery, Int((v / (TimeModel.validationShare * epoch)).rounded(.up)))
    }

    public func seconds(epochs: Int, stepSeconds: Double, forwardSeconds: Double, validationEvery: Int) -> Double {
        startupSeconds + Double(epochs * iterationsPerEpoch) * stepSeconds
            + Double(TimeModel.validations(epochs: epochs, every: validationEvery)) * validationSeconds(forwardSeconds: forwardSeconds)
    }

    /// The most epochs (≤ maxEpochs) whose predicted time fits `budgetSeconds`; 0 when none.
    public func epochsFitting(budgetSeconds: Double, stepSeconds: Double, forwardSeconds: Double,
                              validationEvery: Int, maxEpochs: Int) -> Int {
        var lo = 0, hi = maxEpochs
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if seconds(epochs: mid, stepSeconds: stepSeconds, forwardSeconds: forwardSeconds,
                       validationEvery: validationEvery) <= budgetSeconds { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}

/// The choice rule: candidates in order of preference — nnU-Net's feature ladder (base 32) first,
/// largest patch first within a ladder (as nnU-Net shrinks the patch, never the ladder, to fit
/// its memory target); the narrower ladders only when no patch of the wider one fits. The first
/// whose run of `minEpochs` epochs fits the budget is chosen, and it trains as many epochs as
/// fit, up to nnU-Net's 1000.
public enum BudgetRule {
    /// nnU-Net trains 1000 epochs; dro-plan never plans more.
    public static let maxEpochs = 1000
    /// A network that cannot train a quarter of nnU-Net's schedule within the budget is too
    /// large for it (the default of `--min-epochs`).
    public static let defaultMinEpochs = 250

    /// Orders candidates by preference: the wider ladder (first level's features) first, then
    /// more patch voxels.
    public static func ordered(_ candidates: [Candidate]) -> [Candidate] {
        candidates.sorted {
            $0.features[0] != $1.features[0] ? $0.features[0] > $1.features[0] : $0.voxels > $1.voxels
        }
    }
}
