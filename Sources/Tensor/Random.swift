import Foundation

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator for tests and initialisation
/// when the caller has no generator of its own. Any `RandomNumberGenerator` can be passed instead.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The whole state (8 bytes); `SplitMix64(seed: g.state)` continues exactly where `g` is.
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

public enum RandomSample {
    /// A standard normal draw by Box–Muller (two uniforms in (0, 1]).
    public static func normal(using rng: inout some RandomNumberGenerator) -> Double {
        let u1 = Double.random(in: Double.ulpOfOne...1, using: &rng)
        let u2 = Double.random(in: 0..<1, using: &rng)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
