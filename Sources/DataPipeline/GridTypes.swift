// Grid geometry shared by the data pipeline.
//
// Memory layout: a NIfTI volume [nx, ny, nz] (x fastest) is used directly as D×H×W =
// nz×ny×nx with W fastest. Axis 0 = d (z), axis 1 = h (y), axis 2 = w (x). Linear voxel index
// = w + W·(h + H·d). Channels are outermost: C×D×H×W.

/// Extent of a 3D grid in memory order D×H×W.
public struct GridShape: Hashable, Codable, Sendable, CustomStringConvertible {
    public var d: Int
    public var h: Int
    public var w: Int

    public init(d: Int, h: Int, w: Int) { self.d = d; self.h = h; self.w = w }
    /// All three extents equal to `n`.
    public init(cube n: Int) { self.init(d: n, h: n, w: n) }
    /// From a NIfTI shape [nx, ny, nz, ...].
    public init(niftiShape s: [Int]) { self.init(d: s[2], h: s[1], w: s[0]) }

    public var count: Int { d * h * w }
    /// NIfTI order [nx, ny, nz].
    public var niftiShape: [Int] { [w, h, d] }
    public var isEmpty: Bool { d <= 0 || h <= 0 || w <= 0 }

    /// Extent along axis 0 (d), 1 (h) or 2 (w).
    public subscript(axis: Int) -> Int {
        get { axis == 0 ? d : (axis == 1 ? h : w) }
        set { if axis == 0 { d = newValue } else if axis == 1 { h = newValue } else { w = newValue } }
    }

    @inline(__always) public func index(_ z: Int, _ y: Int, _ x: Int) -> Int { x + w * (y + h * z) }

    /// Voxel (d, h, w) of a linear index.
    public func point(ofIndex i: Int) -> GridPoint {
        GridPoint(d: i / (h * w), h: (i / w) % h, w: i % w)
    }

    public func contains(_ p: GridPoint) -> Bool {
        p.d >= 0 && p.h >= 0 && p.w >= 0 && p.d < d && p.h < h && p.w < w
    }

    public var description: String { "\(d)×\(h)×\(w)" }
}

/// A voxel position (possibly outside a grid) in memory order.
public struct GridPoint: Hashable, Codable, Sendable, CustomStringConvertible {
    public var d: Int
    public var h: Int
    public var w: Int

    public init(d: Int, h: Int, w: Int) { self.d = d; self.h = h; self.w = w }
    public static let zero = GridPoint(d: 0, h: 0, w: 0)

    public subscript(axis: Int) -> Int {
        get { axis == 0 ? d : (axis == 1 ? h : w) }
        set { if axis == 0 { d = newValue } else if axis == 1 { h = newValue } else { w = newValue } }
    }

    public var description: String { "(\(d), \(h), \(w))" }
}

/// Half-open box [lower, upper) of voxels.
public struct GridBox: Hashable, Codable, Sendable, CustomStringConvertible {
    public var lower: GridPoint
    /// Exclusive upper corner.
    public var upper: GridPoint

    public init(lower: GridPoint, upper: GridPoint) { self.lower = lower; self.upper = upper }
    /// The whole grid.
    public init(covering shape: GridShape) {
        self.init(lower: .zero, upper: GridPoint(d: shape.d, h: shape.h, w: shape.w))
    }

    public var shape: GridShape {
        GridShape(d: upper.d - lower.d, h: upper.h - lower.h, w: upper.w - lower.w)
    }

    public func contains(_ p: GridPoint) -> Bool {
        (0..<3).allSatisfy { p[$0] >= lower[$0] && p[$0] < upper[$0] }
    }

    public var description: String { "[\(lower) ..< \(upper)]" }
}

/// Voxel size in millimetres, in NIfTI order (x, y, z) — x is the W axis, z the D axis.
public struct Spacing: Hashable, Codable, Sendable, CustomStringConvertible {
    public var x: Double
    public var y: Double
    public var z: Double

    public init(x: Double, y: Double, z: Double) { self.x = x; self.y = y; self.z = z }
    public init(isotropic s: Double) { self.init(x: s, y: s, z: s) }
    /// From NIfTI's [x, y, z] spacing.
    public init(_ xyz: [Double]) { self.init(x: xyz[0], y: xyz[1], z: xyz[2]) }

    public var xyz: [Double] { [x, y, z] }

    /// Spacing along memory axis 0 (d = z), 1 (h = y), 2 (w = x).
    public subscript(axis axis: Int) -> Double {
        get { axis == 0 ? z : (axis == 1 ? y : x) }
        set { if axis == 0 { z = newValue } else if axis == 1 { y = newValue } else { x = newValue } }
    }

    public var description: String { "(\(x), \(y), \(z)) mm" }
}

/// Affine helpers over NIfTI-style 4×4 row-major matrices mapping (i=x, j=y, k=z, 1) to mm.
public enum Affine {
    /// Diagonal affine with the given spacing and zero origin.
    public static func diagonal(_ s: Spacing) -> [[Double]] {
        [[s.x, 0, 0, 0], [0, s.y, 0, 0], [0, 0, s.z, 0], [0, 0, 0, 1]]
    }

    /// World position (mm) of voxel (i, j, k) in NIfTI order; fractional indices allowed.
    public static func apply(_ a: [[Double]], _ i: Double, _ j: Double, _ k: Double) -> [Double] {
        (0..<3).map { r in a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3] }
    }

    /// Affine of a sub-grid whose voxel 0 sits at voxel `offset` (NIfTI order i, j, k) of the
    /// grid of `a`, and whose voxel step along each NIfTI axis is `step` voxels of that grid.
    public static func subgrid(_ a: [[Double]], offset: [Double], step: [Double]) -> [[Double]] {
        var out = a
        for r in 0..<3 {
            for c in 0..<3 { out[r][c] = a[r][c] * step[c] }
            out[r][3] = a[r][3] + a[r][0] * offset[0] + a[r][1] * offset[1] + a[r][2] * offset[2]
        }
        return out
    }
}
