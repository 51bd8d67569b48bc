/// Voxel neighbourhood of connected components: faces only (6) or faces, edges and corners (26).
import DataPipeline

public enum Connectivity: Int, CaseIterable, Sendable {
    case faces = 6
    case full = 26

    /// nnU-Net v2's `remove_all_but_largest_component` labels with skimage's default
    /// connectivity, which is full (26 in 3-D).
    public static let nnunetDefault = Connectivity.full

    /// (dz, dy, dx) of every neighbour.
    var offsets: [(Int, Int, Int)] {
        var all: [(Int, Int, Int)] = []
        for dz in -1...1 { for dy in -1...1 { for dx in -1...1 {
            let steps = abs(dz) + abs(dy) + abs(dx)
            if steps == 1 || (self == .full && steps > 1) { all.append((dz, dy, dx)) }
        }}}
        return all
    }
}

/// Post-processing per label: keep only the largest connected component of each non-zero
/// label, set the voxels of its other components to background (0). Equal-sized largest
/// components: the one reached first in memory order (x fastest) is kept.
public enum LargestComponent {
    /// Applies the rule in place to a D×H×W label map.
    public static func keep(_ labels: inout [Int32], shape: GridShape, connectivity: Connectivity) {
        let n = shape.count
        guard labels.count == n, n > 0 else { return }
        var component = [Int32](repeating: -1, count: n)
        var sizes: [Int] = []
        var largest: [Int32: (component: Int32, size: Int)] = [:]
        var stack: [Int] = []
        let offsets = connectivity.offsets
        for seed in 0..<n where labels[seed] != 0 && component[seed] < 0 {
            let value = labels[seed], id = Int32(sizes.count)
            var size = 0
            component[seed] = id
            stack.append(seed)
            while let i = stack.popLast() {
                size += 1
                let x = i % shape.w, y = (i / shape.w) % shape.h, z = i / (shape.w * shape.h)
                for (dz, dy, dx) in offsets {
                    let nz = z + dz, ny = y + dy, nx = x + dx
                    guard nz >= 0, ny >= 0, nx >= 0, nz < shape.d, ny < shape.h, nx < shape.w else { continue }
                    let j = shape.index(nz, ny, nx)
                    if component[j] < 0 && labels[j] == value { component[j] = id; stack.append(j) }
                }
            }
            sizes.append(size)
            if size > largest[value]?.size ?? 0 { largest[value] = (id, size) }
        }
        for i in 0..<n where labels[i] != 0 && component[i] != largest[labels[i]]?.component {
            labels[i] = 0
        }
    }
}
