/// SplitMix64 (Steele, Lea & Flood 2014; Vigna's splitmix64.c): the one copy in dro-seg. A tiny
/// seeded generator for tests, phantoms and initialisation, and the seeding of the xoshiro
/// `SeededGenerator` (Sampling). Any `RandomNumberGenerator` can be passed where it is used.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The whole state (8 bytes); `SplitMix64(seed: g.state)` continues exactly where `g` is.
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// Advances the state by the golden-ratio increment and mixes it.
    @inline(__always) public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits (the top bits of one output times 2⁻⁵³).
    @inline(__always) public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}
