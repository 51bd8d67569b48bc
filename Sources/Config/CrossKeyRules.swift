/// Rules between keys of different sections, checked at load time after every section is read.
/// Each names both keys; the problem is reported at the first key's line.
extension Config {
    static let rules: [(SectionReader, Config) -> Void] = [
        // Each downsampling of the U-Net divides the size by its stride on every axis.
        { r, c in
            let patch = c.training.patchSize, divisors = c.model.patchDivisors, levels = c.model.features.count
            // A pool_strides list of the wrong length is reported by the model section itself.
            guard c.model.levelStrides.count == levels - 1 else { return }
            guard patch.count == 3, zip(patch, divisors).contains(where: { $0 % $1 != 0 }) else { return }
            let text = "[\(patch.map(String.init).joined(separator: ", "))]"
            let message: String
            if c.model.poolStrides == nil {
                message = "\(text) must be divisible by \(divisors[0]) on every axis (the \(levels) levels of model.features halve it \(levels - 1) times)"
            } else {
                message = "\(text) must be divisible by [\(divisors.map(String.init).joined(separator: ", "))] per axis (x, y, z: the product of each axis' model.pool_strides)"
            }
            r.log.add(.inconsistent(key: "training.patch_size", at: r.location(of: ["training", "patch_size"]), message: message))
        },
        // Importance weights scale each sample's loss; batch Dice has no per-sample loss to scale.
        { r, c in
            guard c.training.loss.batchDice, c.sampler.kind == .hardness, c.sampler.hardness.importanceSampling else { return }
            r.log.add(.inconsistent(key: "training.loss.batch_dice", at: r.location(of: ["training", "loss", "batch_dice"]),
                message: "true together with sampler.importance_sampling: true; allowed: batch_dice false when importance sampling is on (batch Dice does not split into per-sample losses to weight)"))
        },
    ]
}
