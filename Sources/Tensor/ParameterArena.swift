import Foundation

/// How one parameter tensor is initialised.
public enum ParameterInit: Equatable, Sendable {
    /// Kaiming (He) normal, mode fan_in, leaky-ReLU gain √(2/(1 + a²)): std = gain/√fanIn
    /// (torch.nn.init.kaiming_normal_(w, a), as nnU-Net's InitWeights_He(neg_slope=1e-2)).
    case kaimingNormal(fanIn: Int, negativeSlope: Double)
    case zeros
    case ones
}

/// One named parameter tensor of a model.
public struct ParameterSpec: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var initializer: ParameterInit
    public init(name: String, shape: [Int], initializer: ParameterInit) {
        self.name = name; self.shape = shape; self.initializer = initializer
    }
    public var count: Int { shape.reduce(1, *) }
}

/// Offsets of every parameter tensor in one flat arena, derived from the spec list (never kept in
/// sync by hand). Parameters, gradients and optimizer states all use this layout, so an optimizer
/// is one loop over `totalCount` Floats.
public struct ParameterLayout: Sendable {
    public let specs: [ParameterSpec]
    public let offsets: [Int]
    public let totalCount: Int

    public init(_ specs: [ParameterSpec]) {
        self.specs = specs
        var offsets: [Int] = [], o = 0
        for s in specs { offsets.append(o); o += s.count }
        self.offsets = offsets
        totalCount = o
    }

    /// Index of the spec called `name`, if any.
    public func index(of name: String) -> Int? { specs.firstIndex { $0.name == name } }

    /// Fills `arena` [totalCount] with each spec's initialiser, in spec order, from `rng`.
    public func initialize(_ arena: UnsafeMutablePointer<Float>, using rng: inout some RandomNumberGenerator) {
        for (i, s) in specs.enumerated() {
            let p = arena + offsets[i]
            switch s.initializer {
            case .zeros: p.update(repeating: 0, count: s.count)
            case .ones: p.update(repeating: 1, count: s.count)
            case .kaimingNormal(let fanIn, let a):
                let std = (2 / (1 + a * a)).squareRoot() / Double(fanIn).squareRoot()
                for j in 0..<s.count { p[j] = Float(std * RandomSample.normal(using: &rng)) }
            }
        }
    }
}

/// A model's parameter arena: values and gradients of one layout.
public final class ParameterArena: @unchecked Sendable {
    public let layout: ParameterLayout
    public let values: FloatBuffer
    public let gradients: FloatBuffer

    public init(layout: ParameterLayout) {
        self.layout = layout
        values = FloatBuffer(count: layout.totalCount)
        gradients = FloatBuffer(count: layout.totalCount)
    }

    /// Pointer to parameter `index` (values).
    public func value(_ index: Int) -> UnsafeMutablePointer<Float> { values.pointer + layout.offsets[index] }
    /// Pointer to parameter `index` (gradients).
    public func gradient(_ index: Int) -> UnsafeMutablePointer<Float> { gradients.pointer + layout.offsets[index] }

    public func zeroGradients() { gradients.zero() }

    /// Writes the values as raw little-endian Float32, in layout order (no header).
    public func save(to path: String) throws {
        let data = Data(bytes: values.pointer, count: values.count * MemoryLayout<Float>.size)
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw ArenaError.io(path: path, reason: "\(error)")
        }
    }

    /// Reads raw Float32 values written by `save`; the size must match the layout exactly.
    public func load(from path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ArenaError.io(path: path, reason: "cannot read file")
        }
        let expected = values.count * MemoryLayout<Float>.size
        guard data.count == expected else {
            throw ArenaError.sizeMismatch(path: path, bytes: data.count, expected: expected)
        }
        _ = data.withUnsafeBytes { raw in
            memcpy(values.pointer, raw.baseAddress!, expected)
        }
    }
}

public enum ArenaError: Error, CustomStringConvertible, Equatable {
    case io(path: String, reason: String)
    case sizeMismatch(path: String, bytes: Int, expected: Int)
    public var description: String {
        switch self {
        case .io(let p, let r): return "\(p): \(r)"
        case .sizeMismatch(let p, let b, let e):
            return "\(p): parameter file has \(b) bytes; this model needs exactly \(e) (\(e / 4) Float32 values)"
        }
    }
}
