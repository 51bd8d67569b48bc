import Foundation

/// nnU-Net v2's planning rules (ExperimentPlanner in
/// nnunetv2/experiment_planning/experiment_planners/default_experiment_planner.py and
/// get_pool_and_conv_props in .../network_topology.py), written out in docs/planning.md.
/// Every array here is in NIfTI axis order x, y, z.
public enum PlanningRules {
    /// nnU-Net's ANISO_THRESHOLD (nnunetv2/configuration.py).
    public static let anisotropyThreshold = 3.0
    /// UNet_featuremap_min_edge_length: the bottleneck's smallest edge.
    public static let minFeatureMapSize = 4
    /// UNet_base_num_features and UNet_max_features_3d.
    public static let baseFeatures = 32
    public static let maxFeatures = 320
    /// The initial patch has the volume of 256³ voxels before clipping to the median shape.
    public static let initialPatchEdge = 256.0

    /// numpy's default percentile (linear interpolation between the closest ranks).
    public static func percentile(_ values: [Double], _ q: Double) -> Double {
        percentile(sorted: values.sorted(), q)
    }

    /// `percentile` of values already sorted ascending.
    public static func percentile(sorted s: [Double], _ q: Double) -> Double {
        precondition(!s.isEmpty, "percentile of nothing")
        let pos = q / 100 * Double(s.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, s.count - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - Double(lo))
    }

    /// determine_fullres_target_spacing: the median spacing per axis, except when one axis is
    /// both much coarser (> 3× the coarsest other) and has much fewer voxels (3× its median size
    /// < the smallest other median size): that axis takes the 10th percentile of its spacings,
    /// but never less than the coarsest other axis (+1e-5).
    public static func targetSpacing(spacings: [[Double]], shapesAfterCrop: [[Int]],
                                     threshold: Double = anisotropyThreshold) -> [Double] {
        var target = (0..<3).map { a in percentile(spacings.map { $0[a] }, 50) }
        let size = (0..<3).map { a in percentile(shapesAfterCrop.map { Double($0[a]) }, 50) }
        // np.argmax: the first maximum.
        let worst = (0..<3).max { target[$0] < target[$1] || (target[$0] == target[$1] && $0 > $1) }!
        let others = (0..<3).filter { $0 != worst }
        let otherSpacing = others.map { target[$0] }.max()!
        let otherSize = others.map { size[$0] }.min()!
        if target[worst] > threshold * otherSpacing && size[worst] * threshold < otherSize {
            var t = percentile(spacings.map { $0[worst] }, 10)
            if t < otherSpacing { t = otherSpacing + 1e-5 }
            target[worst] = t
        }
        return target
    }

    /// compute_new_shape: round(shape × spacing / target) per axis.
    public static func resampledShape(_ shape: [Int], spacing: [Double], target: [Double]) -> [Int] {
        (0..<3).map { Int((Double(shape[$0]) * spacing[$0] / target[$0]).rounded()) }
    }

    /// The initial patch: aspect ratio 1/spacing, volume 256³, rounded, clipped to the median shape.
    public static func initialPatch(spacing: [Double], medianShape: [Int]) -> [Int] {
        let inv = spacing.map { 1 / $0 }
        let scale = pow(pow(initialPatchEdge, 3) / inv.reduce(1, *), 1.0 / 3)
        return (0..<3).map { min(Int((inv[$0] * scale).rounded()), medianShape[$0]) }
    }

    /// The network topology for a patch (get_pool_and_conv_props).
    public struct Topology: Equatable, Sendable {
        /// Poolings per axis.
        public var poolsPerAxis: [Int]
        /// One [sx, sy, sz] per downsampling (levels − 1 entries), each 1 or 2.
        public var strides: [[Int]]
        /// One [kx, ky, kz] per level (1 or 3), finest first.
        public var kernels: [[Int]]
        /// The patch padded up to a multiple of `divisor` on each axis.
        public var patch: [Int]
        /// 2^poolsPerAxis.
        public var divisor: [Int]
        public var levels: Int { kernels.count }
        /// True when every axis pools at every level with 3×3×3 kernels (what the network does
        /// without `model.kernel_sizes` / `model.pool_strides`).
        public var isIsotropic: Bool {
            strides.allSatisfy { $0 == [2, 2, 2] } && kernels.allSatisfy { $0 == [3, 3, 3] }
        }
    }

    /// get_pool_and_conv_props(spacing, patch, min_feature_map_size = 4, max_numpool): each round
    /// pools every axis whose current size is ≥ 2·4 and whose current spacing is < 2× the finest
    /// of those axes (a single such axis needs size ≥ 3·4); an axis gets 3-wide kernels from the
    /// first round in which its spacing is < 2× the finest current spacing (1 before that); the
    /// bottleneck is 3×3×3; the patch is padded up to a multiple of 2^pools on each axis.
    /// Kernel rule: nnU-Net's code compares `spacings_of_axes[d]`, the spacings of the axes
    /// still large enough to pool; when all three are, that is `current_spacing[d]`, which is
    /// what is used here for every axis (the code's evident intent).
    public static func topology(spacing: [Double], patch: [Int], minFeatureMapSize: Int = minFeatureMapSize,
                                maxPools: Int = 999_999) -> Topology {
        var currentSpacing = spacing
        var size = patch.map(Double.init)
        var pools = [0, 0, 0]
        var kernel = [1, 1, 1]
        var strides: [[Int]] = []
        var kernels: [[Int]] = []
        let m = Double(minFeatureMapSize)
        while true {
            var valid = (0..<3).filter { size[$0] >= 2 * m }
            guard !valid.isEmpty else { break }
            let finestValid = valid.map { currentSpacing[$0] }.min()!
            valid = valid.filter { currentSpacing[$0] / finestValid < 2 }
            valid = valid.filter { pools[$0] < maxPools }
            if valid.count == 1 && size[valid[0]] < 3 * m { break }
            if valid.isEmpty { break }
            let finest = currentSpacing.min()!
            for d in 0..<3 where kernel[d] != 3 && currentSpacing[d] / finest < 2 { kernel[d] = 3 }
            var stride = [1, 1, 1]
            for v in valid {
                stride[v] = 2
                pools[v] += 1
                currentSpacing[v] *= 2
                size[v] = (size[v] / 2).rounded(.up)
            }
            strides.append(stride)
            kernels.append(kernel)
        }
        kernels.append([3, 3, 3])
        let divisor = pools.map { 1 << $0 }
        return Topology(poolsPerAxis: pools, strides: strides, kernels: kernels,
                        patch: padded(patch, divisor: divisor), divisor: divisor)
    }

    /// pad_shape: up to the next multiple of the divisor (unchanged when already one).
    public static func padded(_ shape: [Int], divisor: [Int]) -> [Int] {
        (0..<3).map { a in (shape[a] + divisor[a] - 1) / divisor[a] * divisor[a] }
    }

    /// _features_per_stage: min(max, base·2^i) for each level.
    public static func features(levels: Int, base: Int = baseFeatures, max: Int = maxFeatures) -> [Int] {
        (0..<levels).map { Swift.min(max, base << $0) }
    }

    /// One step of the planner's patch reduction (the while loop of get_plans_for_configuration):
    /// the axis with the largest patch / median-shape ratio (the last one on ties, as
    /// np.argsort(...)[-1]) shrinks by its divisor, recomputed for the shrunk patch; the topology
    /// is then recomputed. Nil when that would leave an axis below the bottleneck's size.
    public static func reduced(_ topology: Topology, spacing: [Double], medianShape: [Int]) -> Topology? {
        var patch = topology.patch
        let ratios = (0..<3).map { Double(patch[$0]) / Double(max(1, medianShape[$0])) }
        var axis = 0
        for a in 1..<3 where ratios[a] >= ratios[axis] { axis = a }
        var tmp = patch
        tmp[axis] -= topology.divisor[axis]
        guard tmp[axis] >= minFeatureMapSize else { return nil }
        let divisor = self.topology(spacing: spacing, patch: tmp).divisor
        patch[axis] -= divisor[axis]
        guard patch[axis] >= minFeatureMapSize else { return nil }
        return self.topology(spacing: spacing, patch: patch)
    }

    /// The planner's sequence of topologies, largest patch first: the initial patch, then each
    /// reduction step, down to patches of `minVoxels` voxels.
    public static func patchSequence(spacing: [Double], medianShape: [Int], minVoxels: Int = 16 * 16 * 16) -> [Topology] {
        var t = topology(spacing: spacing, patch: initialPatch(spacing: spacing, medianShape: medianShape))
        var out = [t]
        while t.patch.reduce(1, *) > minVoxels, let next = reduced(t, spacing: spacing, medianShape: medianShape) {
            if next.patch == t.patch { break }
            t = next
            out.append(t)
        }
        return out
    }
}
