import Evaluation
import Foundation
import Plotting

/// The run folder's plots: loss.png (per-iteration loss and its per-epoch mean), dice.png
/// (validation Dice per label and the mean foreground), sampling.png (each case's sampling
/// probability per epoch, cases grouped, relative to uniform 1/N on a log scale).
public enum TrainingPlots {
    public static let lossName = "loss.png"
    public static let diceName = "dice.png"
    public static let samplingName = "sampling.png"

    /// Series colours, distinguishable on white (Tableau 10 palette).
    static let palette: [RGB] = [RGB(31, 119, 180), RGB(255, 127, 14), RGB(44, 160, 44), RGB(214, 39, 40),
                                 RGB(148, 103, 189), RGB(140, 86, 75), RGB(227, 119, 194), RGB(127, 127, 127),
                                 RGB(188, 189, 34), RGB(23, 190, 207)]
    /// Group strip colours (a separate cycle so groups never look like probabilities).
    static let groupPalette: [RGB] = [RGB(90, 90, 90), RGB(214, 39, 40), RGB(44, 160, 44), RGB(31, 119, 180)]

    /// Writes the plots that have data; returns the paths written.
    @discardableResult
    public static func write(run: RunDirectory) throws -> [String] {
        let curves = try RunCurves.read(run: run)
        var written: [String] = []
        if !curves.loss.isEmpty {
            let path = run.file(lossName)
            try lossChart(curves.loss).render().image.write(to: path)
            written.append(path)
        }
        if !curves.dice.isEmpty {
            let path = run.file(diceName)
            try diceChart(curves.dice).render().image.write(to: path)
            written.append(path)
        }
        if !curves.probability.cases.isEmpty {
            let path = run.file(samplingName)
            try SamplingHeatmap(curves.probability).render().image.write(to: path)
            written.append(path)
        }
        return written
    }

    static func lossChart(_ loss: [(x: Double, y: Double)]) -> LineChart {
        LineChart(title: "TRAINING LOSS", xLabel: "ITERATION", series: [
            LineChart.Series(name: "LOSS", colour: RGB(170, 200, 230), points: loss),
            LineChart.Series(name: "MOVING MEAN", colour: palette[0], points: movingMean(loss, window: movingWindow(loss.count))),
        ])
    }

    static func diceChart(_ dice: [(name: String, points: [(x: Double, y: Double)])]) -> LineChart {
        LineChart(title: "VALIDATION DICE", xLabel: "EPOCH", series: dice.enumerated().map { index, curve in
            let isMean = curve.name == RunCurves.meanForegroundName
            return LineChart.Series(name: curve.name, colour: isMean ? .black : palette[index % palette.count],
                                    points: curve.points)
        }, yRange: (0, 1))
    }

    /// About 50 points of smoothing across the run, at least 1.
    static func movingWindow(_ count: Int) -> Int { max(1, count / 50) }

    /// Trailing mean over `window` points (fewer at the start).
    static func movingMean(_ points: [(x: Double, y: Double)], window: Int) -> [(x: Double, y: Double)] {
        var sum = 0.0
        return points.enumerated().map { index, point in
            sum += point.y
            if index >= window { sum -= points[index - window].y }
            return (point.x, sum / Double(min(index + 1, window)))
        }
    }
}

/// Heatmap of sampling probability: one row per case (grouped, a coloured strip and name per
/// group on the left), one column per logged epoch; colour = log₁₀(p·N) from −1 (blue, ten
/// times rarer than uniform) through 0 (white, uniform) to +1 (red, ten times likelier).
public struct SamplingHeatmap {
    public let matrix: ProbabilityMatrix
    /// Colour scale bound: ratios to uniform beyond ×10 / ÷10 saturate.
    static let logRatioLimit = 1.0
    static let margin = (left: 110, right: 16, top: 24, bottom: 36)
    static let stripWidth = 8

    public init(_ matrix: ProbabilityMatrix) { self.matrix = matrix }

    /// Diverging blue–white–red colour of log₁₀(p·N).
    public static func colour(probability: Double, count: Int) -> RGB {
        guard probability.isFinite, probability > 0, count > 0 else { return RGB(220, 220, 220) }
        let t = min(max(Foundation.log10(probability * Double(count)) / logRatioLimit, -1), 1)
        let fade = UInt8((255 * (1 - abs(t))).rounded())
        return t >= 0 ? RGB(255, fade, fade) : RGB(fade, fade, 255)
    }

    /// Pixel rectangle of cell (row, column): x, y, width, height.
    static func cell(row: Int, column: Int, rows: Int, columns: Int, width: Int, height: Int) -> (x: Int, y: Int, w: Int, h: Int) {
        let left = margin.left, top = margin.top
        let plotW = width - margin.left - margin.right, plotH = height - margin.top - margin.bottom
        let x0 = left + column * plotW / max(columns, 1), x1 = left + (column + 1) * plotW / max(columns, 1)
        let y0 = top + row * plotH / max(rows, 1), y1 = top + (row + 1) * plotH / max(rows, 1)
        return (x0, y0, max(1, x1 - x0), max(1, y1 - y0))
    }

    public func render(width: Int = 640, height: Int = 400) -> Canvas {
        var canvas = Canvas(width: width, height: height, background: .white)
        let rows = matrix.cases.count, columns = matrix.epochs.count
        canvas.text("SAMPLING PROBABILITY / UNIFORM (BLUE 0.1X, WHITE 1X, RED 10X)", x: 8, y: 8, colour: .black)
        for row in 0..<rows {
            for column in 0..<columns {
                let r = SamplingHeatmap.cell(row: row, column: column, rows: rows, columns: columns, width: width, height: height)
                canvas.fillRect(x: r.x, y: r.y, width: r.w, height: r.h,
                                colour: SamplingHeatmap.colour(probability: matrix.values[row][column], count: rows))
            }
        }
        // Group strips, names and separators.
        let groups = matrix.groups.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for (g, group) in groups.enumerated() {
            let members = matrix.groups.indices.filter { matrix.groups[$0] == group }
            guard let first = members.first, let last = members.last else { continue }
            let top = SamplingHeatmap.cell(row: first, column: 0, rows: rows, columns: max(columns, 1), width: width, height: height)
            let bottom = SamplingHeatmap.cell(row: last, column: 0, rows: rows, columns: max(columns, 1), width: width, height: height)
            let colour = SamplingHeatmap.groupPalette(g)
            canvas.fillRect(x: SamplingHeatmap.margin.left - SamplingHeatmap.stripWidth - 2, y: top.y,
                            width: SamplingHeatmap.stripWidth, height: bottom.y + bottom.h - top.y, colour: colour)
            canvas.text(group.isEmpty ? "ALL" : group, x: 4, y: (top.y + bottom.y + bottom.h) / 2 - 3, colour: colour)
            if g > 0 {
                canvas.line(x0: SamplingHeatmap.margin.left, y0: top.y, x1: width - SamplingHeatmap.margin.right - 1, y1: top.y,
                            colour: .black)
            }
        }
        if let firstEpoch = matrix.epochs.first, let lastEpoch = matrix.epochs.last {
            canvas.text("EPOCH \(firstEpoch)", x: SamplingHeatmap.margin.left, y: height - 28, colour: .black)
            let text = "EPOCH \(lastEpoch)"
            canvas.text(text, x: width - SamplingHeatmap.margin.right - 6 * text.count, y: height - 28, colour: .black)
        }
        return canvas
    }

    static func groupPalette(_ index: Int) -> RGB { TrainingPlots.groupPalette[index % TrainingPlots.groupPalette.count] }
}
