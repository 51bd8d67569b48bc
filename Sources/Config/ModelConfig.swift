import Yams

/// `model:` — the 3D U-Net (docs/method.md §4). Input channels and classes come from `data`.
public struct ModelConfig: Equatable, Sendable {
    /// nnU-Net's 3D full-resolution feature ladder (capped at 320).
    public static let defaultFeatures = [32, 64, 128, 256, 320]
    /// The reference "bench" network of docs/method.md §4.
    public static let benchFeatures = [16, 32, 64, 128]

    /// Channels per resolution level, finest first; level i > 0 halves the resolution.
    public var features = ModelConfig.defaultFeatures
    /// Extra losses on coarser decoder outputs (nnU-Net's deep supervision).
    public var deepSupervision = false
    /// InstanceNorm3d epsilon (PyTorch and nnU-Net default).
    public var normEps = 1e-5
    /// LeakyReLU negative slope (nnU-Net default).
    public var leakySlope = 0.01
    /// Conv kernel of each level, finest first, as [kx, ky, kz] (x, y, z: NIfTI axis order, like
    /// `training.patch_size`); nil: 3×3×3 at every level.
    public var kernelSizes: [[Int]]?
    /// Stride of each downsampling (level l → l + 1) as [sx, sy, sz], each 1 or 2; nil: 2×2×2.
    public var poolStrides: [[Int]]?

    public init() {}

    /// Kernel of every level (`kernelSizes`, or 3×3×3 at each of the features' levels).
    public var levelKernels: [[Int]] { kernelSizes ?? Array(repeating: [3, 3, 3], count: features.count) }
    /// Stride of every downsampling (`poolStrides`, or 2×2×2).
    public var levelStrides: [[Int]] { poolStrides ?? Array(repeating: [2, 2, 2], count: max(0, features.count - 1)) }

    /// Each patch side (x, y, z) must be divisible by this: the product of that axis' strides
    /// (2^(levels−1) on every axis with the default strides).
    public var patchDivisors: [Int] {
        levelStrides.reduce([1, 1, 1]) { acc, s in zip(acc, s).map { $0 * $1 } }
    }

    static let schema = Schema<ModelConfig>([
        .ints("features", \.features, minCount: 1, .atLeast(1), type: "list of integers",
              allowed: "≥ 1 entry, each ≥ 1",
              "Channels per resolution level, finest first (nnU-Net's 3D full-res ladder). The reference network uses `[16, 32, 64, 128]`."),
        .bool("deep_supervision", \.deepSupervision,
              "nnU-Net v2's deep supervision: 1×1×1 heads on decoder levels 1…L−2, loss Σ w_k·(Dice+CE) on labels downsampled to each level (nearest-exact), w_k ∝ 1/2^k with the coarsest weight 0, normalised. Inference uses the full-resolution head only."),
        .number("norm_eps", \.normEps, .greaterThan(0), "InstanceNorm epsilon."),
        .number("leaky_slope", \.leakySlope, .halfOpen(0, 1), "LeakyReLU negative slope."),
        triples("kernel_sizes", \.kernelSizes, .atLeast(1), oddOnly: true,
                allowed: "null, or one [kx, ky, kz] per level (as many as `features`), each size odd ≥ 1",
                "Conv kernel of each level, finest first, as [kx, ky, kz] in x, y, z order (the order of `training.patch_size`); null = `[3, 3, 3]` at every level. Both convs of a level use it with padding k//2 per axis, and so does the strided first conv of the level (nnU-Net v2's PlainConvUNet). For thick slices on z, e.g. `[[3, 3, 1], [3, 3, 3], [3, 3, 3]]`."),
        triples("pool_strides", \.poolStrides, .closed(1, 2), oddOnly: false,
                allowed: "null, or one [sx, sy, sz] per downsampling (one fewer than `features`), each 1 or 2",
                "Stride of each downsampling, level l → l + 1, as [sx, sy, sz] in x, y, z order; null = `[2, 2, 2]` everywhere. The decoder's transposed conv back to level l has kernel = stride = entry l. `training.patch_size` must be divisible per axis by the product of that axis' strides. For thick slices on z, e.g. `[[2, 2, 1], [2, 2, 2]]`."),
    ], rules: [
        { r, m in
            for (name, list, want, what) in [("kernel_sizes", m.kernelSizes, m.features.count, "one [kx, ky, kz] per level"),
                                             ("pool_strides", m.poolStrides, m.features.count - 1, "one [sx, sy, sz] per downsampling")] {
                guard let list, list.count != want else { continue }
                r.log.add(.inconsistent(key: r.keyPath(name), at: r.location(name),
                    message: "has \(list.count) entries for the \(m.features.count) levels of model.features; allowed: \(want) (\(what))"))
            }
        },
    ])

    /// A list of [x, y, z] integer triples or null (nil); each value in `range`, odd when `oddOnly`.
    /// Written out only when set, so resolved configs of runs without it stay unchanged.
    static func triples(_ name: String, _ path: WritableKeyPath<ModelConfig, [[Int]]?>, _ range: NumberRange,
                        oddOnly: Bool, allowed: String, _ meaning: String) -> Key<ModelConfig> {
        .custom(name, type: "list of 3-integer lists", allowed: allowed, meaning,
                show: { $0[keyPath: path].map { "`\($0)`" } ?? "null" },
                read: { r, s in
                    guard let node = r.raw(name) else { return }
                    if isNull(node) { s[keyPath: path] = nil; return }
                    guard let field = r.field(name), let items = field.elements(expected: "a list of [x, y, z] lists")
                    else { return }
                    var values: [[Int]] = [], ok = !items.isEmpty
                    if items.isEmpty {
                        r.log.add(.outOfRange(key: field.key, at: field.location, found: "an empty list", allowed: allowed))
                    }
                    for item in items {
                        guard let v = item.ints(count: 3, range) else { ok = false; continue }
                        if oddOnly, v.contains(where: { $0 % 2 == 0 }) {
                            r.log.add(.outOfRange(key: item.key, at: item.location, found: "\(v)",
                                                  allowed: "odd sizes (padding k//2 keeps the size)"))
                            ok = false; continue
                        }
                        values.append(v)
                    }
                    if ok { s[keyPath: path] = values }
                },
                write: { s in s[keyPath: path].map { YAMLOut.flow($0.map(YAMLOut.ints)) } })
    }
}
