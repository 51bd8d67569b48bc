/// Rules between keys of different sections, checked at load time after every section is read.
/// Each names both keys; the problem is reported at the first key's line.
extension Config {
    static let rules: [(SectionReader, Config) -> Void] = [
        // Each halving of the U-Net needs an even size.
        { r, c in
            let patch = c.training.patchSize, divisor = c.model.patchDivisor, levels = c.model.features.count
            guard patch.contains(where: { $0 % divisor != 0 }) else { return }
            r.log.add(.inconsistent(key: "training.patch_size", at: r.location(of: ["training", "patch_size"]),
                message: "[\(patch.map(String.init).joined(separator: ", "))] must be divisible by \(divisor) on every axis (the \(levels) levels of model.features halve it \(levels - 1) times)"))
        },
        // Importance weights scale each sample's loss; batch Dice has no per-sample loss to scale.
        { r, c in
            guard c.training.loss.batchDice, c.sampler.kind == .hardness, c.sampler.hardness.importanceSampling else { return }
            r.log.add(.inconsistent(key: "training.loss.batch_dice", at: r.location(of: ["training", "loss", "batch_dice"]),
                message: "true together with sampler.importance_sampling: true; allowed: batch_dice false when importance sampling is on (batch Dice does not split into per-sample losses to weight)"))
        },
    ]
}
