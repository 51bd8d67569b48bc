/// Scaled voxel values: value = scl_slope · stored + scl_inter when scl_slope is non-zero and
/// finite, else the stored value (nibabel `get_slope_inter` / `get_fdata`). Scaling is done in
/// Double, so floatValues()[i] == Float(doubleValues()[i]) for every voxel.
protocol StoredScalar {
    var asDouble: Double { get }
}
extension UInt8: StoredScalar { var asDouble: Double { Double(self) } }
extension Int8: StoredScalar { var asDouble: Double { Double(self) } }
extension Int16: StoredScalar { var asDouble: Double { Double(self) } }
extension UInt16: StoredScalar { var asDouble: Double { Double(self) } }
extension Int32: StoredScalar { var asDouble: Double { Double(self) } }
extension UInt32: StoredScalar { var asDouble: Double { Double(self) } }
extension Int64: StoredScalar { var asDouble: Double { Double(self) } }
extension Float: StoredScalar { var asDouble: Double { Double(self) } }
extension Double: StoredScalar { var asDouble: Double { self } }

extension NIfTIImage {
    /// Scaled values as Float, x fastest (file order).
    public func floatValues() -> [Float] {
        if datatype == .float32, header.scaling == nil {
            return data.withUnsafeBytes { raw in raw.withMemoryRebound(to: Float.self) { Array($0) } }
        }
        return mapStored { Float($0) }
    }

    /// Scaled values as Double, x fastest (file order).
    public func doubleValues() -> [Double] {
        mapStored { $0 }
    }

    /// Applies `body` to every scaled value (in Double), in file order.
    func mapStored<R>(_ body: (Double) -> R) -> [R] {
        switch datatype {
        case .uint8: return map(UInt8.self, body)
        case .int8: return map(Int8.self, body)
        case .int16: return map(Int16.self, body)
        case .uint16: return map(UInt16.self, body)
        case .int32: return map(Int32.self, body)
        case .uint32: return map(UInt32.self, body)
        case .int64: return map(Int64.self, body)
        case .float32: return map(Float.self, body)
        case .float64: return map(Double.self, body)
        }
    }

    private func map<T: StoredScalar, R>(_: T.Type, _ body: (Double) -> R) -> [R] {
        data.withUnsafeBytes { raw in
            raw.withMemoryRebound(to: T.self) { stored in
                if let (slope, inter) = header.scaling {
                    return stored.map { body(slope * $0.asDouble + inter) }
                }
                return stored.map { body($0.asDouble) }
            }
        }
    }

    /// A copy stored as `target` (no scaling): each scaled value must be representable exactly
    /// (whole and in range) for an integer type; float32 rounds to nearest.
    public func converted(to target: NIfTIDatatype, path: String = "") throws -> NIfTIImage {
        let values = doubleValues()
        let h = NIfTIImage.freshHeader(from: header, shape: shape, datatype: target)
        func ints<T: FixedWidthInteger>(_: T.Type) throws -> [UInt8] {
            var out = [T]()
            out.reserveCapacity(values.count)
            for (i, v) in values.enumerated() {
                guard v == v.rounded(), let t = T(exactly: v) else {
                    throw NIfTIError(path: path, field: "voxel \(i)", found: "\(v)",
                                     allowed: "whole numbers in \(T.min)...\(T.max) for \(target.name)")
                }
                out.append(t)
            }
            return NIfTIImage.bytes(of: out)
        }
        let d: [UInt8]
        switch target {
        case .uint8: d = try ints(UInt8.self)
        case .int8: d = try ints(Int8.self)
        case .int16: d = try ints(Int16.self)
        case .uint16: d = try ints(UInt16.self)
        case .int32: d = try ints(Int32.self)
        case .uint32: d = try ints(UInt32.self)
        case .int64: d = try ints(Int64.self)
        case .float32: d = NIfTIImage.bytes(of: values.map { Float($0) })
        case .float64: d = NIfTIImage.bytes(of: values)
        }
        return NIfTIImage(header: h, data: d)
    }
}
