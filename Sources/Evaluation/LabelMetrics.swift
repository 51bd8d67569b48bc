import Dispatch

/// Which of the two masks of a label is empty.
public enum EmptyKind: String, Sendable, CaseIterable {
    case none, gt, pred, both
}

/// How HD95 combines the two directions.
public enum HD95Mode: String, Sendable, CaseIterable {
    /// max(P95(pred→gt), P95(gt→pred)) — MONAI / DeepMind, the default (docs/method.md §5.3).
    case directed
    /// P95 of both directions' distances pooled — MedPy's `hd95`, nnU-Net v1-era papers.
    case pooled
}

/// Metrics of one label in one case. Distances in mm, volumes in mm³.
///
/// Empty-mask policy (docs/method.md §5.5): Dice is 0 when exactly one mask is empty and nan when both
/// are; HD, HD95 and ASSD are +inf when exactly one is empty and nan when both are; surface Dice
/// (MONAI) is 0 and nan respectively. Never 0 distance, never a sentinel.
public struct LabelMetrics: Sendable, Equatable {
    public var dice: Double
    public var hd: Double
    public var hd95: Double
    public var assd: Double
    /// Normalised surface Dice at the requested tolerance; nil when not requested.
    public var surfaceDice: Double?
    public var nGT: Int
    public var nPred: Int
    public var volumeGT: Double
    public var volumePred: Double
    public var empty: EmptyKind

    /// Predicted minus ground-truth volume (mm³).
    public var volumeDifference: Double { volumePred - volumeGT }
}

/// Options shared by every label computation.
public struct MetricOptions: Sendable {
    public var hd95Mode: HD95Mode
    /// Tolerance (mm) for normalised surface Dice; nil = not computed.
    public var surfaceDiceTolerance: Double?

    public init(hd95Mode: HD95Mode = .directed, surfaceDiceTolerance: Double? = nil) {
        self.hd95Mode = hd95Mode
        self.surfaceDiceTolerance = surfaceDiceTolerance
    }
}

/// Pure metric functions on in-memory masks.
public enum SegmentationMetrics {
    /// Percentile of the Hausdorff distance reported as HD95.
    public static let hausdorffPercentile = 95.0

    /// Metrics of two boolean masks of the same shape [nx, ny, nz] (x fastest) and spacing (mm).
    public static func compare(gt: [Bool], pred: [Bool], shape: [Int], spacing: [Double],
                               options: MetricOptions = MetricOptions()) -> LabelMetrics {
        let box = VoxelBox.union(boundingBox(gt, shape: shape), boundingBox(pred, shape: shape))
        return compare(box: box, shape: shape, spacing: spacing, options: options,
                       isGT: { gt[$0] }, isPred: { pred[$0] })
    }

    /// Metrics of label `label` in two label volumes, given the joint bounding box of that label
    /// (nil when absent from both).
    static func compare(gtLabels: [Int32], predLabels: [Int32], label: Int32, box: VoxelBox?,
                        shape: [Int], spacing: [Double], options: MetricOptions) -> LabelMetrics {
        gtLabels.withUnsafeBufferPointer { g in
            predLabels.withUnsafeBufferPointer { p in
                compare(box: box, shape: shape, spacing: spacing, options: options,
                        isGT: { g[$0] == label }, isPred: { p[$0] == label })
            }
        }
    }

    static func compare(box: VoxelBox?, shape: [Int], spacing: [Double], options: MetricOptions,
                        isGT: (Int) -> Bool, isPred: (Int) -> Bool) -> LabelMetrics {
        let voxelVolume = spacing[0] * spacing[1] * spacing[2]
        guard let box else {
            return LabelMetrics(dice: .nan, hd: .nan, hd95: .nan, assd: .nan,
                                surfaceDice: options.surfaceDiceTolerance == nil ? nil : .nan,
                                nGT: 0, nPred: 0, volumeGT: 0, volumePred: 0, empty: .both)
        }
        let pair = MaskPair(box: box, imageShape: shape, isGT: isGT, isPred: isPred)
        let dice = Dice.score(overlap: pair.nBoth, reference: pair.nGT, prediction: pair.nPred)
        var result = LabelMetrics(dice: dice, hd: .infinity, hd95: .infinity, assd: .infinity,
                                  surfaceDice: options.surfaceDiceTolerance == nil ? nil : 0,
                                  nGT: pair.nGT, nPred: pair.nPred,
                                  volumeGT: Double(pair.nGT) * voxelVolume,
                                  volumePred: Double(pair.nPred) * voxelVolume,
                                  empty: pair.nGT == 0 ? .gt : (pair.nPred == 0 ? .pred : .none))
        if result.empty != .none { return result }

        let distances = surfaceDistances(pair, spacing: spacing)
        let summary = SurfaceDistanceSummary(predToGT: distances.predToGT,
                                             gtToPred: distances.gtToPred, options: options)
        result.hd = summary.hd
        result.hd95 = summary.hd95
        result.assd = summary.assd
        result.surfaceDice = summary.surfaceDice
        return result
    }

    /// Directed surface distances (mm) of a non-empty mask pair, each direction in surface-voxel
    /// order of its source mask.
    static func surfaceDistances(_ pair: MaskPair, spacing: [Double])
        -> (predToGT: [Double], gtToPred: [Double]) {
        // The two directions are independent: run them concurrently (a single large label
        // then still uses both cores).
        var directed: [[Double]] = [[], []]
        directed.withUnsafeMutableBufferPointer { out in
            DispatchQueue.concurrentPerform(iterations: 2) { k in
                let source = pair.surface(of: k == 0 ? pair.pred : pair.gt)
                let target = pair.surface(of: k == 0 ? pair.gt : pair.pred)
                let edt = DistanceTransform.squaredEDT(features: target.flags, shape: pair.shape,
                                                       spacing: spacing)
                out[k] = source.indices.map { edt[$0].squareRoot() }
            }
        }
        return (directed[0], directed[1])
    }

    /// Bounding box of a boolean mask, nil when empty.
    public static func boundingBox(_ mask: [Bool], shape: [Int]) -> VoxelBox? {
        let nx = shape[0], ny = shape[1]
        var lo = [Int.max, Int.max, Int.max], hi = [-1, -1, -1]
        for (i, on) in mask.enumerated() where on {
            let c = [i % nx, (i / nx) % ny, i / (nx * ny)]
            for a in 0..<3 { lo[a] = min(lo[a], c[a]); hi[a] = max(hi[a], c[a]) }
        }
        return hi[0] < 0 ? nil : VoxelBox(lo: lo, hi: hi)
    }
}

/// HD, HD95, ASSD and surface Dice from the two directed distance lists (both non-empty).
struct SurfaceDistanceSummary {
    var hd: Double
    var hd95: Double
    var assd: Double
    var surfaceDice: Double?

    init(predToGT: [Double], gtToPred: [Double], options: MetricOptions) {
        let a = predToGT.sorted(), b = gtToPred.sorted()
        let p = SegmentationMetrics.hausdorffPercentile
        hd = max(a.last ?? .nan, b.last ?? .nan)
        switch options.hd95Mode {
        case .directed:
            hd95 = max(Statistics.percentile(sorted: a, p), Statistics.percentile(sorted: b, p))
        case .pooled:
            hd95 = Statistics.percentile(sorted: (a + b).sorted(), p)
        }
        // MedPy ≥ 0.5 and MONAI: mean over both directions' distances concatenated.
        assd = (predToGT.reduce(0, +) + gtToPred.reduce(0, +)) / Double(a.count + b.count)
        if let tolerance = options.surfaceDiceTolerance {
            // MONAI compute_surface_dice (use_subvoxels=False): boundary voxels within the
            // tolerance (d ≤ τ) over all boundary voxels of both masks.
            let within = a.filter { $0 <= tolerance }.count + b.filter { $0 <= tolerance }.count
            surfaceDice = Double(within) / Double(a.count + b.count)
        }
    }
}
