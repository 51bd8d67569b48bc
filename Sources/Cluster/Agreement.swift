/// Checks that ranks agree where data-parallel training assumes they do: the same resolved config
/// and binary at start-up, the same parameters during training. Each check allgathers a few
/// bytes per rank and throws `ClusterError.disagreement` on every rank, naming the ranks.

/// FNV-1a, 64-bit: a hash that is the same in every process. Swift's `Hasher` is seeded at
/// random per process, so two ranks would disagree on equal inputs. Not cryptographic: it
/// detects accidents (another config file, another build), not attacks.
public struct StableHash: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func combine<Bytes: Sequence>(bytes: Bytes) where Bytes.Element == UInt8 {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    }

    /// Combines the UTF-8 bytes of `string` and a terminator, so ("ab", "c") ≠ ("a", "bc").
    public mutating func combine(_ string: String) {
        combine(bytes: string.utf8)
        combine(bytes: [0xff])
    }

    /// The hash of the given strings (e.g. the resolved config as YAML and the binary's version).
    public static func of(_ strings: String...) -> UInt64 {
        var h = StableHash()
        for s in strings { h.combine(s) }
        return h.value
    }
}

/// A cheap fingerprint of a parameter buffer: count, Double sum and sum of squares (readable in
/// a message, tell how far apart ranks drifted) and a hash of the Float bit patterns (exact:
/// ranks that take identical steps hold bitwise identical parameters).
public struct ParameterChecksum: Sendable {
    public var count: Int
    public var sum: Double
    public var sumOfSquares: Double
    public var bits: UInt64

    /// One pass over the buffer (Double sums and a multiply-xor hash), meant for every few hundred
    /// steps rather than every step.
    public init(_ parameters: UnsafeBufferPointer<Float>) {
        var sum = 0.0, squares = 0.0
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for x in parameters {
            let d = Double(x)
            sum += d
            squares += d * d
            hash = (hash ^ UInt64(x.bitPattern)) &* 0x0000_0100_0000_01b3
        }
        self.init(count: parameters.count, sum: sum, sumOfSquares: squares, bits: hash)
    }

    public init(count: Int, sum: Double, sumOfSquares: Double, bits: UInt64) {
        self.count = count
        self.sum = sum
        self.sumOfSquares = sumOfSquares
        self.bits = bits
    }

    /// "12345 values, sum 1.234567e+01, sum of squares 5.6e+02".
    var summary: String {
        "\(count) values, sum \(sum), sum of squares \(sumOfSquares)"
    }
}

extension Communicator {
    /// Throws `ClusterError.disagreement` on every rank unless every rank passed the same
    /// `value`. `what` names the value in the message: "ranks disagree on the config and binary
    /// hash: rank 1 has 0x…, rank 0 has 0x…" (every rank that differs from rank 0 is listed).
    public func requireAgreement(on value: UInt64, what: String) throws {
        let values = allgather([value]).map { $0.first ?? 0 }
        let differing = values.indices.filter { values[$0] != values[0] }
        guard !differing.isEmpty else { return }
        let parts = differing.map { "rank \($0) has \(hex(values[$0]))" }
        throw ClusterError.disagreement("ranks disagree on \(what): "
            + parts.joined(separator: ", ") + ", rank 0 has \(hex(values[0]))")
    }

    /// Throws `ClusterError.disagreement` on every rank unless every rank holds bitwise the same
    /// parameters (compared by `ParameterChecksum`); `step` goes into the message.
    public func requireIdenticalParameters(_ parameters: UnsafeBufferPointer<Float>, step: Int) throws {
        let mine = ParameterChecksum(parameters)
        let encoded = [UInt64(mine.count), mine.sum.bitPattern, mine.sumOfSquares.bitPattern, mine.bits]
        let all = allgather(encoded).map { v in
            ParameterChecksum(count: Int(v[0]), sum: Double(bitPattern: v[1]),
                              sumOfSquares: Double(bitPattern: v[2]), bits: v[3])
        }
        let differing = all.indices.filter { all[$0].count != all[0].count || all[$0].bits != all[0].bits }
        guard !differing.isEmpty else { return }
        let parts = differing.map { "rank \($0) (\(all[$0].summary))" }
        throw ClusterError.disagreement("parameters differ across ranks at step \(step): "
            + parts.joined(separator: ", ") + " against rank 0 (\(all[0].summary))")
    }
}

/// 0x-prefixed, 16 hex digits.
func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
}
