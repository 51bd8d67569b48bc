// Exact (non-interpolating) patch extraction with zero padding.

/// A training patch: C×P image, P label (P = patch size, D×H×W), and where it came from.
public struct Patch: Sendable {
    public var image: [Float]
    public var label: [UInt8]?
    public var size: GridShape
    public var channels: Int
    /// Origin in the case grid (may be negative: padding).
    public var origin: GridPoint
}

public enum PatchExtractor {
    /// Copies [origin, origin + size) of the case; voxels outside the grid are 0 (image) and 0
    /// (label). Voxel q of the patch equals voxel origin + q of the case wherever that exists.
    public static func extract(_ c: CaseVolume, origin: GridPoint, size: GridShape) -> Patch {
        let shape = c.shape
        var image = [Float](repeating: 0, count: c.channels * size.count)
        var label: [UInt8]? = c.label == nil ? nil : [UInt8](repeating: 0, count: size.count)
        // Overlap of the patch with the grid, in patch coordinates.
        var lo = GridPoint.zero, hi = GridPoint.zero
        for a in 0..<3 {
            lo[a] = max(0, -origin[a])
            hi[a] = min(size[a], shape[a] - origin[a])
            if hi[a] <= lo[a] { return Patch(image: image, label: label, size: size, channels: c.channels, origin: origin) }
        }
        let run = hi.w - lo.w
        c.image.withUnsafeBufferPointer { src in
            image.withUnsafeMutableBufferPointer { dst in
                for ch in 0..<c.channels {
                    for z in lo.d..<hi.d {
                        for y in lo.h..<hi.h {
                            let s = ch * shape.count + shape.index(z + origin.d, y + origin.h, lo.w + origin.w)
                            let d = ch * size.count + size.index(z, y, lo.w)
                            for k in 0..<run { dst[d + k] = src[s + k] }
                        }
                    }
                }
            }
        }
        if let src = c.label, var dst = label {
            for z in lo.d..<hi.d {
                for y in lo.h..<hi.h {
                    let s = shape.index(z + origin.d, y + origin.h, lo.w + origin.w)
                    let d = size.index(z, y, lo.w)
                    dst.replaceSubrange(d..<(d + run), with: src[s..<(s + run)])
                }
            }
            label = dst
        }
        return Patch(image: image, label: label, size: size, channels: c.channels, origin: origin)
    }
}
