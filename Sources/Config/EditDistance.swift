/// "Did you mean" suggestions by Levenshtein distance.
enum EditDistance {
    /// A candidate is suggested when its distance is at most this fraction of the longer word
    /// (rounded up), and at most `maximumEdits`: close enough to be a typo, far enough that
    /// unrelated short words are not proposed.
    static let relativeThreshold = 0.4
    static let maximumEdits = 3

    /// Levenshtein distance (insert, delete, substitute = 1) over Unicode scalars, case-sensitive.
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let substitution = previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }

    /// The nearest candidate within the typo threshold (ties: first in `candidates`), compared
    /// case-insensitively; nil when nothing is close.
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(word.lowercased(), candidate.lowercased())
            let limit = min(maximumEdits,
                            Int((relativeThreshold * Double(max(word.count, candidate.count))).rounded(.up)))
            guard d <= limit else { continue }
            if let current = best, current.1 <= d { continue }
            best = (candidate, d)
        }
        return best?.0
    }
}
