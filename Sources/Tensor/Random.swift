import Foundation

public enum RandomSample {
    /// A standard normal draw by Box–Muller (two uniforms in (0, 1]).
    public static func normal(using rng: inout some RandomNumberGenerator) -> Double {
        let u1 = Double.random(in: Double.ulpOfOne...1, using: &rng)
        let u2 = Double.random(in: 0..<1, using: &rng)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
