/// The Dice similarity coefficient, 2·|A∩B| / (|A| + |B|) in Double (MedPy's `dc`,
/// docs/method.md §5.4), for dro-eval's reports and for validation during training alike.
///
/// Empty masks (docs/method.md §5.5): one empty and the other not → 0 (the formula gives it);
/// both empty → nan (Dice is undefined; means skip it, as dro-eval's reports and the trainer's
/// best-checkpoint choice do).
public enum Dice {
    /// From voxel counts |A∩B|, |A| (reference) and |B| (prediction).
    @inlinable
    public static func score(overlap: Int, reference: Int, prediction: Int) -> Double {
        reference + prediction == 0 ? .nan : 2 * Double(overlap) / Double(reference + prediction)
    }

    /// Of label `label` in two label maps of the same grid.
    @inlinable
    public static func score<Label: Equatable>(_ prediction: [Label], _ reference: [Label], label: Label) -> Double {
        var overlap = 0, predicted = 0, actual = 0
        for (p, r) in zip(prediction, reference) {
            let inP = p == label, inR = r == label
            if inP { predicted += 1 }
            if inR { actual += 1 }
            if inP && inR { overlap += 1 }
        }
        return score(overlap: overlap, reference: actual, prediction: predicted)
    }
}
