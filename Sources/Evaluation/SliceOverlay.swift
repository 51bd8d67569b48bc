/// PNG slice overlays: ground-truth outline (green) and prediction outline (red; yellow where
/// both) of one label on an axial slice of the intensity image or, without one, of the
/// ground-truth labels.
import Plotting

enum SliceOverlay {
    /// Target width of an overlay in pixels; slices are enlarged by an integer factor up to it.
    static let targetWidth = 256
    /// Largest enlargement factor.
    static let maxScale = 4
    /// Intensity window: these percentiles of the slice map to black and white.
    static let windowPercentiles = (low: 1.0, high: 99.0)
    static let both = RGB(240, 220, 40)

    /// Axial slice (z) with the most disagreement between the masks, else the most foreground.
    static func chooseSlice(gt: [Int32], pred: [Int32], label: Int32, shape: [Int]) -> Int {
        let plane = shape[0] * shape[1]
        var best = 0, bestScore = (-1, -1)
        for z in 0..<shape[2] {
            var disagree = 0, union = 0
            for i in (z * plane)..<((z + 1) * plane) {
                let g = gt[i] == label, p = pred[i] == label
                if g != p { disagree += 1 }
                if g || p { union += 1 }
            }
            if (disagree, union) > bestScore { bestScore = (disagree, union); best = z }
        }
        return best
    }

    /// Renders slice `z`; `intensity` nil = ground-truth labels as grey levels.
    static func render(gt: [Int32], pred: [Int32], intensity: [Float]?, label: Int32,
                       shape: [Int], z: Int) -> PNGImage {
        let nx = shape[0], ny = shape[1], plane = nx * ny, base = z * plane
        let scale = max(1, min(maxScale, targetWidth / max(1, nx)))
        var grey = [UInt8](repeating: 0, count: plane)
        if let intensity {
            let slice = Array(intensity[base..<(base + plane)]).map(Double.init).filter { $0.isFinite }.sorted()
            let lo = Statistics.percentile(sorted: slice, windowPercentiles.low)
            let hi = Statistics.percentile(sorted: slice, windowPercentiles.high)
            let range = hi > lo ? hi - lo : 1
            for i in 0..<plane {
                let v = (Double(intensity[base + i]) - lo) / range
                grey[i] = UInt8(max(0, min(255, (v.isFinite ? v : 0) * 255)))
            }
        } else {
            let maxLabel = max(1, gt.max() ?? 1)
            for i in 0..<plane { grey[i] = UInt8(min(255, 60 + 150 * Int(gt[base + i]) / Int(maxLabel))) }
            for i in 0..<plane where gt[base + i] == 0 { grey[i] = 0 }
        }
        var canvas = Canvas(width: nx * scale, height: ny * scale)
        func outline(_ volume: [Int32], _ x: Int, _ y: Int) -> Bool {
            let i = base + x + nx * y
            guard volume[i] == label else { return false }
            if x == 0 || y == 0 || x == nx - 1 || y == ny - 1 { return true }
            return volume[i - 1] != label || volume[i + 1] != label || volume[i - nx] != label || volume[i + nx] != label
        }
        for y in 0..<ny {
            for x in 0..<nx {
                let g = outline(gt, x, y), p = outline(pred, x, y)
                let v = grey[x + nx * y]
                let colour = g && p ? both : (g ? RGB.green : (p ? RGB.red : RGB(v, v, v)))
                // y up: image row 0 shows the largest y
                canvas.fillRect(x: x * scale, y: (ny - 1 - y) * scale, width: scale, height: scale, colour: colour)
            }
        }
        canvas.text("Z \(z)", x: 2, y: 2, colour: .white)
        return canvas.image
    }
}
