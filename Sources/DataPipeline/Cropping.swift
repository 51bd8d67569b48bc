// Crop to the non-zero region and its inverse (nnU-Net's `crop_to_nonzero`).
//
// The non-zero mask is the union over channels of voxels != 0, with enclosed holes filled
// (nnU-Net applies `binary_fill_holes`; here a flood fill of the zero voxels from the grid
// border, 6-connected like scipy's default structure). The crop box is the mask's bounding box.

public enum Cropping {
    /// Voxels where any channel is non-zero, holes filled. Length shape.count.
    public static func nonzeroMask(_ image: [Float], channels: Int, shape: GridShape) -> [Bool] {
        let n = shape.count
        var mask = [Bool](repeating: false, count: n)
        for c in 0..<channels {
            let base = c * n
            for i in 0..<n where image[base + i] != 0 { mask[i] = true }
        }
        fillHoles(&mask, shape: shape)
        return mask
    }

    /// Sets to true every false voxel not 6-connected to the grid border through false voxels.
    public static func fillHoles(_ mask: inout [Bool], shape: GridShape) {
        let n = shape.count
        var outside = [Bool](repeating: false, count: n)
        var stack = [Int]()
        func seed(_ i: Int) { if !mask[i] && !outside[i] { outside[i] = true; stack.append(i) } }
        for z in 0..<shape.d {
            for y in 0..<shape.h {
                for x in 0..<shape.w
                where z == 0 || y == 0 || x == 0 || z == shape.d - 1 || y == shape.h - 1 || x == shape.w - 1 {
                    seed(shape.index(z, y, x))
                }
            }
        }
        let sw = 1, sh = shape.w, sd = shape.w * shape.h
        while let i = stack.popLast() {
            let x = i % shape.w, y = (i / shape.w) % shape.h, z = i / sd
            if x > 0 { seed(i - sw) }
            if x < shape.w - 1 { seed(i + sw) }
            if y > 0 { seed(i - sh) }
            if y < shape.h - 1 { seed(i + sh) }
            if z > 0 { seed(i - sd) }
            if z < shape.d - 1 { seed(i + sd) }
        }
        for i in 0..<n where !outside[i] { mask[i] = true }
    }

    /// Bounding box of true voxels; nil if none.
    public static func boundingBox(_ mask: [Bool], shape: GridShape) -> GridBox? {
        var lo = GridPoint(d: Int.max, h: Int.max, w: Int.max), hi = GridPoint(d: -1, h: -1, w: -1)
        var i = 0
        for z in 0..<shape.d {
            for y in 0..<shape.h {
                for x in 0..<shape.w {
                    if mask[i] {
                        lo.d = min(lo.d, z); lo.h = min(lo.h, y); lo.w = min(lo.w, x)
                        hi.d = max(hi.d, z); hi.h = max(hi.h, y); hi.w = max(hi.w, x)
                    }
                    i += 1
                }
            }
        }
        guard hi.d >= 0 else { return nil }
        return GridBox(lower: lo, upper: GridPoint(d: hi.d + 1, h: hi.h + 1, w: hi.w + 1))
    }

    /// The part of a C×D×H×W buffer inside `box` (which must lie inside `shape`).
    public static func crop<T>(_ data: [T], channels: Int, shape: GridShape, box: GridBox) -> [T] {
        let out = box.shape
        var result = [T]()
        result.reserveCapacity(channels * out.count)
        for c in 0..<channels {
            for z in box.lower.d..<box.upper.d {
                for y in box.lower.h..<box.upper.h {
                    let start = c * shape.count + shape.index(z, y, box.lower.w)
                    result.append(contentsOf: data[start..<(start + out.w)])
                }
            }
        }
        return result
    }

    /// Inverse of `crop`: places a C×box buffer into a C×`shape` buffer filled with `fill[c]`.
    public static func uncrop<T>(_ data: [T], channels: Int, box: GridBox, into shape: GridShape,
                                 fill: [T]) -> [T] {
        let inner = box.shape
        var result = [T]()
        result.reserveCapacity(channels * shape.count)
        for c in 0..<channels {
            result.append(contentsOf: repeatElement(fill[c], count: shape.count))
        }
        for c in 0..<channels {
            for z in 0..<inner.d {
                for y in 0..<inner.h {
                    let src = c * inner.count + inner.index(z, y, 0)
                    let dst = c * shape.count + shape.index(z + box.lower.d, y + box.lower.h, box.lower.w)
                    result.replaceSubrange(dst..<(dst + inner.w), with: data[src..<(src + inner.w)])
                }
            }
        }
        return result
    }
}
