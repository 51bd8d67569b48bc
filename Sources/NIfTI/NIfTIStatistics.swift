/// Summary of an image's scaled values, computed in one pass in Double without copying the
/// volume. NaNs are counted; min, max, sum and mean are over finite values only (±∞ are
/// neither NaN nor finite: they count in `count` only).
public struct NIfTIStatistics: Equatable, Sendable {
    public var count = 0
    public var nanCount = 0
    public var finiteCount = 0
    public var min = Double.infinity
    public var max = -Double.infinity
    /// Sequential Double sum of the finite values.
    public var sum = 0.0

    /// Mean of the finite values, nil when there are none.
    public var mean: Double? { finiteCount > 0 ? sum / Double(finiteCount) : nil }

    mutating func add(_ v: Double) {
        count += 1
        if v.isNaN { nanCount += 1; return }
        guard v.isFinite else { return }
        finiteCount += 1
        sum += v
        if v < min { min = v }
        if v > max { max = v }
    }
}

extension NIfTIImage {
    /// Statistics of the scaled values (see `NIfTIStatistics`).
    public func statistics() -> NIfTIStatistics {
        switch datatype {
        case .uint8: return statistics(UInt8.self)
        case .int8: return statistics(Int8.self)
        case .int16: return statistics(Int16.self)
        case .uint16: return statistics(UInt16.self)
        case .int32: return statistics(Int32.self)
        case .uint32: return statistics(UInt32.self)
        case .int64: return statistics(Int64.self)
        case .float32: return statistics(Float.self)
        case .float64: return statistics(Double.self)
        }
    }

    private func statistics<T: StoredScalar>(_: T.Type) -> NIfTIStatistics {
        var s = NIfTIStatistics()
        data.withUnsafeBytes { raw in
            raw.withMemoryRebound(to: T.self) { stored in
                if let (slope, inter) = header.scaling {
                    for v in stored { s.add(slope * v.asDouble + inter) }
                } else {
                    for v in stored { s.add(v.asDouble) }
                }
            }
        }
        return s
    }
}
