import Common
import Tensor
import Config

/// The training / validation split of a dataset's cases: `data.val_cases` when given, else a
/// seeded shuffle taking round(val_fraction × n) cases of every group (so rare groups are
/// validated too), at least one training case per group. With `data.fold` set: the same
/// per-group shuffle, each group's cases dealt in turn into `data.folds` folds (case i of the
/// shuffled group into fold i mod folds), fold `data.fold` validated (nnU-Net's 5-fold split,
/// per group); every case is validated in exactly one fold.
public struct DatasetSplit: Equatable, Sendable {
    public var training: [CaseFiles]
    public var validation: [CaseFiles]

    public init(cases: [CaseFiles], data: DataConfig) {
        if let ids = data.valCases {
            training = cases.filter { !ids.contains($0.id) }
            validation = cases.filter { ids.contains($0.id) }
            return
        }
        // SplitMix64 (Data/SeededGenerator.swift): the split depends only on `data.split_seed`,
        // not on the training generator's state.
        var rng = SplitMix64(seed: UInt64(data.splitSeed))
        var validationIDs = Set<String>()
        let groups = Dictionary(grouping: cases, by: { $0.group ?? "" })
        for key in groups.keys.sorted() {
            var members = (groups[key] ?? []).map { $0.id }.sorted()
            for i in stride(from: members.count - 1, to: 0, by: -1) {
                members.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
            if let fold = data.fold {
                for (i, id) in members.enumerated() where i % max(1, data.folds) == fold { validationIDs.insert(id) }
                continue
            }
            let count = min(Int((data.valFraction * Double(members.count)).rounded()), members.count - 1)
            validationIDs.formUnion(members.prefix(max(0, count)))
        }
        training = cases.filter { !validationIDs.contains($0.id) }
        validation = cases.filter { validationIDs.contains($0.id) }
    }
}
