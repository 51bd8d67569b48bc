// The project's seeded random generator: xoshiro256** seeded by SplitMix64.
//
// xoshiro256** and SplitMix64 are Blackman & Vigna's published algorithms
// (https://prng.di.unimi.it/xoshiro256starstar.c, splitmix64.c). A run is reproducible from its
// seed: every random number in dro-seg comes from one `SeededGenerator` passed down, or from a
// child stream made with `spawn()`. The whole state (four words plus the cached Box–Muller
// deviate) serialises to `SeededGenerator.serializedByteCount` bytes and restores bit-exactly.

import Common
import Foundation

public struct SeededGenerator: RandomNumberGenerator, Equatable {
    /// xoshiro256** state. Never all zero (the all-zero state is a fixed point).
    public private(set) var words: (UInt64, UInt64, UInt64, UInt64)
    /// Second deviate of the last Box–Muller pair, not yet returned (nil when none).
    public private(set) var spareNormal: Double?

    /// Bytes written by `serialized()`: 4 state words, the spare deviate's bits and a flag word.
    public static let serializedByteCount = 6 * 8

    /// Seeds the four state words from SplitMix64 started at `seed` (the seeding the xoshiro
    /// authors recommend); every seed, including 0, gives a valid non-zero state.
    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        words = (sm.next(), sm.next(), sm.next(), sm.next())
        spareNormal = nil
    }

    /// Starts from explicit state words (reference vectors, restored checkpoints).
    public init(words: (UInt64, UInt64, UInt64, UInt64)) throws {
        guard words != (0, 0, 0, 0) else { throw SamplerError.corruptState("generator state is all zero") }
        self.words = words
        spareNormal = nil
    }

    public static func == (a: SeededGenerator, b: SeededGenerator) -> Bool {
        a.words == b.words && a.spareNormal?.bitPattern == b.spareNormal?.bitPattern
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 &- k))
    }

    /// xoshiro256** output and state transition.
    @inline(__always) public mutating func next() -> UInt64 {
        let result = Self.rotl(words.1 &* 5, 7) &* 9
        let t = words.1 << 17
        words.2 ^= words.0
        words.3 ^= words.1
        words.1 ^= words.2
        words.0 ^= words.3
        words.2 ^= t
        words.3 = Self.rotl(words.3, 45)
        return result
    }

    /// A child generator for an independent stream (e.g. the sampler's, the augmenter's),
    /// seeded through SplitMix64 by one output of this generator.
    public mutating func spawn() -> SeededGenerator { SeededGenerator(seed: next()) }

    /// Uniform in [0, 1) with 53 random bits (the top bits of one output times 2⁻⁵³).
    @inline(__always) public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always) public mutating func nextFloat() -> Float {
        Float(next() >> 40) * 0x1.0p-24
    }

    /// Uniform in [lower, upper).
    public mutating func nextDouble(in lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * nextDouble()
    }

    /// Uniform in [lower, upper).
    public mutating func nextFloat(in lower: Float, _ upper: Float) -> Float {
        lower + (upper - lower) * nextFloat()
    }

    /// Uniform integer in 0..<bound, unbiased (Lemire's multiply-and-reject method), defined here
    /// rather than through the standard library so sequences never change with the toolchain.
    /// `bound` must be positive (callers check their own inputs).
    @inline(__always) public mutating func nextIndex(below bound: Int) -> Int {
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Standard normal deviate by the polar Box–Muller (Marsaglia) method; the second deviate of
    /// each pair is cached in the state, so it is part of what `serialized()` saves.
    public mutating func nextNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        while true {
            let u = 2 * nextDouble() - 1, v = 2 * nextDouble() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let f = (-2 * Foundation.log(s) / s).squareRoot()
                spareNormal = v * f
                return u * f
            }
        }
    }

    /// Normal deviate with the given mean and standard deviation.
    public mutating func nextNormal(mean: Double, standardDeviation: Double) -> Double {
        mean + standardDeviation * nextNormal()
    }

    /// Single-precision normal deviate (rounded from the Double one).
    public mutating func nextNormalFloat(mean: Float = 0, standardDeviation: Float = 1) -> Float {
        mean + standardDeviation * Float(nextNormal())
    }

    /// The full state, little-endian: words 0–3, spare bits, spare flag (0 or 1).
    public func serialized() -> [UInt8] {
        var w = ByteWriter()
        write(to: &w)
        return w.bytes
    }

    func write(to w: inout ByteWriter) {
        w.append(words.0); w.append(words.1); w.append(words.2); w.append(words.3)
        w.append(spareNormal?.bitPattern ?? 0)
        w.append(UInt64(spareNormal == nil ? 0 : 1))
    }

    /// Restores a state written by `serialized()`; throws `SamplerError.corruptState` otherwise.
    public init(serialized bytes: [UInt8]) throws {
        var r = ByteReader(bytes, what: "generator state")
        try self.init(from: &r)
        try r.finish()
    }

    init(from r: inout ByteReader) throws {
        let w = (try r.uint64(), try r.uint64(), try r.uint64(), try r.uint64())
        let spareBits = try r.uint64(), flag = try r.uint64()
        try self.init(words: w)
        switch flag {
        case 0: spareNormal = nil
        case 1: spareNormal = Double(bitPattern: spareBits)
        default: throw SamplerError.corruptState("generator spare flag is \(flag), allowed 0 or 1")
        }
    }
}
