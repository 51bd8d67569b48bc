/// An allowed interval for a numeric key, with the wording used in error messages and docs.
struct NumberRange: Sendable {
    var lower: Double?
    var lowerInclusive = true
    var upper: Double?
    var upperInclusive = true

    static let any = NumberRange()
    static func atLeast(_ x: Double) -> NumberRange { NumberRange(lower: x) }
    static func greaterThan(_ x: Double) -> NumberRange { NumberRange(lower: x, lowerInclusive: false) }
    static func closed(_ a: Double, _ b: Double) -> NumberRange { NumberRange(lower: a, upper: b) }
    /// [a, b)
    static func halfOpen(_ a: Double, _ b: Double) -> NumberRange {
        NumberRange(lower: a, upper: b, upperInclusive: false)
    }

    func contains(_ v: Double) -> Bool {
        guard v.isFinite else { return false }
        if let lo = lower, lowerInclusive ? v < lo : v <= lo { return false }
        if let hi = upper, upperInclusive ? v > hi : v >= hi { return false }
        return true
    }

    /// "a number in [0, 1)", "an integer ≥ 1", "a number > 0", "a finite number".
    func describe(integer: Bool) -> String {
        guard let bound = boundText else { return integer ? "an integer" : "a finite number" }
        return "\(integer ? "an integer" : "a number") \(bound)"
    }

    /// "in [0, 1)", "≥ 1", "> 0"; nil when unbounded.
    var boundText: String? {
        switch (lower, upper) {
        case let (lo?, hi?):
            return "in \(lowerInclusive ? "[" : "(")\(formatNumber(lo)), \(formatNumber(hi))\(upperInclusive ? "]" : ")")"
        case let (lo?, nil):
            return "\(lowerInclusive ? "≥" : ">") \(formatNumber(lo))"
        case let (nil, hi?):
            return "\(upperInclusive ? "≤" : "<") \(formatNumber(hi))"
        case (nil, nil):
            return nil
        }
    }
}

/// Integral values without a fraction ("2", not "2.0"); others in Swift's shortest round-trip form.
func formatNumber(_ v: Double) -> String {
    if v.isFinite, v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
    return "\(v)"
}
