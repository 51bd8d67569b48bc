@testable import Evaluation

/// Test helpers: masks built from predicates, and a brute-force oracle of the surface
/// distances written independently of the box/EDT path (all surface pairs, O(n·m)).
enum TestMasks {
    static func mask(_ shape: [Int], _ inside: (Int, Int, Int) -> Bool) -> [Bool] {
        var m = [Bool](repeating: false, count: shape[0] * shape[1] * shape[2])
        for z in 0..<shape[2] { for y in 0..<shape[1] { for x in 0..<shape[0] where inside(x, y, z) {
            m[x + shape[0] * (y + shape[1] * z)] = true
        } } }
        return m
    }

    static func ball(_ shape: [Int], centre: [Double], radius: Double) -> [Bool] {
        mask(shape) { x, y, z in
            let d = [Double(x) - centre[0], Double(y) - centre[1], Double(z) - centre[2]]
            return d[0] * d[0] + d[1] * d[1] + d[2] * d[2] <= radius * radius
        }
    }

    /// Surface voxel coordinates: foreground with a 6-neighbour that is background or outside.
    static func surface(_ m: [Bool], _ shape: [Int]) -> [[Int]] {
        var out: [[Int]] = []
        func at(_ x: Int, _ y: Int, _ z: Int) -> Bool {
            if x < 0 || y < 0 || z < 0 || x >= shape[0] || y >= shape[1] || z >= shape[2] { return false }
            return m[x + shape[0] * (y + shape[1] * z)]
        }
        for z in 0..<shape[2] { for y in 0..<shape[1] { for x in 0..<shape[0] where at(x, y, z) {
            if !at(x - 1, y, z) || !at(x + 1, y, z) || !at(x, y - 1, z) || !at(x, y + 1, z)
                || !at(x, y, z - 1) || !at(x, y, z + 1) { out.append([x, y, z]) }
        } } }
        return out
    }

    /// Distances (mm) from each surface voxel of `from` to the nearest surface voxel of `to`.
    static func directed(_ from: [Bool], _ to: [Bool], _ shape: [Int], _ s: [Double]) -> [Double] {
        let target = surface(to, shape)
        return surface(from, shape).map { p in
            target.map { q -> Double in
                let d = (0..<3).map { Double(p[$0] - q[$0]) * s[$0] }
                return (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).squareRoot()
            }.min() ?? .infinity
        }
    }

    /// Oracle HD, directed and pooled HD95, ASSD.
    static func oracle(gt: [Bool], pred: [Bool], shape: [Int], spacing: [Double])
        -> (hd: Double, hd95Directed: Double, hd95Pooled: Double, assd: Double) {
        let a = directed(pred, gt, shape, spacing), b = directed(gt, pred, shape, spacing)
        let all = a + b
        return (all.max()!,
                max(numpyPercentile(a, 95), numpyPercentile(b, 95)),
                numpyPercentile(all, 95),
                all.reduce(0, +) / Double(all.count))
    }

    /// Textbook linear-interpolation percentile, written separately from Statistics.
    static func numpyPercentile(_ v: [Double], _ p: Double) -> Double {
        let s = v.sorted()
        let h = Double(s.count - 1) * p / 100
        let i = Int(h)
        if i + 1 >= s.count { return s[s.count - 1] }
        return s[i] + (h - Double(i)) * (s[i + 1] - s[i])
    }
}
