// Foreground voxel locations per class: what forced-foreground patch sampling draws from.

/// nnU-Net keeps at most this many locations per class ("num_samples = 10000" in its
/// `sample_foreground_locations`) ...
let maxStoredLocationsPerClass = 10_000
/// ... unless that is less than this fraction of the class ("min_percent_coverage = 0.01").
let minStoredLocationFraction = 0.01

/// Locations of every foreground class of one label map, and the foreground bounding box.
/// Large classes are thinned by a regular stride in raster order (deterministic, spread over
/// the whole class), keeping max(10 000, 1 % of the class) locations as nnU-Net does.
public struct ForegroundIndex: Sendable {
    /// Present foreground classes (label > 0), ascending.
    public let classes: [UInt8]
    /// Linear voxel indices per entry of `classes`.
    public let locations: [[Int32]]
    /// Voxel count per entry of `classes` (before thinning).
    public let voxelCounts: [Int]
    /// Box of all voxels with label > 0, nil if there are none.
    public let boundingBox: GridBox?
    public let shape: GridShape

    public init(label: [UInt8], shape: GridShape) {
        self.shape = shape
        var counts = [Int](repeating: 0, count: 256)
        var lo = GridPoint(d: Int.max, h: Int.max, w: Int.max)
        var hi = GridPoint(d: -1, h: -1, w: -1)
        label.withUnsafeBufferPointer { l in
            var i = 0
            for z in 0..<shape.d {
                for y in 0..<shape.h {
                    var rowAny = false
                    var xmin = Int.max, xmax = -1
                    for x in 0..<shape.w {
                        let v = Int(l[i]); i += 1
                        if v != 0 {
                            counts[v] += 1; rowAny = true
                            if x < xmin { xmin = x }
                            xmax = x
                        }
                    }
                    if rowAny {
                        lo.d = min(lo.d, z); lo.h = min(lo.h, y); lo.w = min(lo.w, xmin)
                        hi.d = max(hi.d, z); hi.h = max(hi.h, y); hi.w = max(hi.w, xmax)
                    }
                }
            }
        }
        boundingBox = hi.d < 0 ? nil
            : GridBox(lower: lo, upper: GridPoint(d: hi.d + 1, h: hi.h + 1, w: hi.w + 1))
        let present = (1..<256).filter { counts[$0] > 0 }
        classes = present.map { UInt8($0) }
        voxelCounts = present.map { counts[$0] }
        // Stride per class so that about `keep` locations remain.
        var slot = [Int](repeating: -1, count: 256)
        var strides = [Int](repeating: 1, count: 256)
        var lists = [[Int32]]()
        for (k, c) in present.enumerated() {
            slot[c] = k
            let keep = max(maxStoredLocationsPerClass,
                           Int((Double(counts[c]) * minStoredLocationFraction).rounded(.up)))
            strides[c] = max(1, counts[c] / keep)
            lists.append([])
            lists[k].reserveCapacity(counts[c] / strides[c] + 1)
        }
        var seen = [Int](repeating: 0, count: 256)
        for (i, v) in label.enumerated() where v != 0 {
            let c = Int(v)
            if seen[c] % strides[c] == 0 { lists[slot[c]].append(Int32(i)) }
            seen[c] += 1
        }
        locations = lists
    }

    public var isEmpty: Bool { classes.isEmpty }
}
