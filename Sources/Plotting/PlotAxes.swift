import Foundation

/// Axis arithmetic for the run plots: "nice" tick values and data → pixel mapping. Pure.
public enum PlotAxes {
    /// Tick steps are 1, 2 or 5 × 10ᵏ (the usual choice of plotting libraries: round labels).
    static let niceSteps: [Double] = [1, 2, 5, 10]

    /// About `target` round tick values covering [lower, upper]; `integer` axes (epochs,
    /// iterations) never get a step below 1.
    public static func ticks(_ lower: Double, _ upper: Double, target: Int = 5, integer: Bool = false) -> [Double] {
        guard lower.isFinite, upper.isFinite, upper > lower, target > 0 else { return lower.isFinite ? [lower] : [] }
        let raw = max((upper - lower) / Double(target), integer ? 1 : 0)
        let magnitude = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
        let step = (niceSteps.first { $0 * magnitude >= raw } ?? 10) * magnitude
        let first = Foundation.ceil(lower / step - 1e-9) * step
        var values: [Double] = []
        var value = first
        while value <= upper + step * 1e-9 {
            values.append(abs(value) < step * 1e-9 ? 0 : value)
            value += step
        }
        return values
    }

    /// Short tick label: integers without decimals, otherwise up to 3 significant digits.
    public static func label(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e7 { return String(Int(value)) }
        return String(format: "%.3g", value)
    }

    /// Pixel coordinate of `value` on an axis from `lower`→`start` to `upper`→`end`.
    public static func pixel(_ value: Double, lower: Double, upper: Double, start: Int, end: Int) -> Int {
        guard upper > lower else { return start }
        return start + Int(((value - lower) / (upper - lower) * Double(end - start)).rounded())
    }

    /// Range of the finite values, widened when flat so the axis is never empty.
    public static func range(_ values: [Double]) -> (lower: Double, upper: Double) {
        let finite = values.filter(\.isFinite)
        guard let lower = finite.min(), let upper = finite.max() else { return (0, 1) }
        return upper > lower ? (lower, upper) : (lower - 0.5, upper + 0.5)
    }
}

/// A line chart on a white canvas: frame, ticks with labels, one polyline per series, legend.
public struct LineChart {
    public struct Series {
        public var name: String
        public var colour: RGB
        public var points: [(x: Double, y: Double)]
        public init(name: String, colour: RGB, points: [(x: Double, y: Double)]) {
            self.name = name
            self.colour = colour
            self.points = points
        }
    }

    /// Plot area margins in pixels: room for tick labels left and below, title above.
    static let margin = (left: 56, right: 16, top: 24, bottom: 36)
    static let tickLength = 4

    public var title: String
    public var xLabel: String
    /// The x axis counts (iterations, epochs): integer ticks only.
    public var integerX = true
    public var series: [Series]
    /// Fixed y range (e.g. 0…1 for Dice); nil = from the data.
    public var yRange: (lower: Double, upper: Double)?

    public init(title: String, xLabel: String, series: [Series], yRange: (lower: Double, upper: Double)? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.series = series
        self.yRange = yRange
    }

    /// Plot area in pixels: left, top, right, bottom (inclusive).
    static func area(width: Int, height: Int) -> (left: Int, top: Int, right: Int, bottom: Int) {
        (margin.left, margin.top, width - margin.right, height - margin.bottom)
    }

    public func render(width: Int = 640, height: Int = 360) -> Canvas {
        var canvas = Canvas(width: width, height: height, background: .white)
        let area = LineChart.area(width: width, height: height)
        let xs = PlotAxes.range(series.flatMap { $0.points.map(\.x) })
        let ys = yRange ?? PlotAxes.range(series.flatMap { $0.points.map(\.y) })
        canvas.text(title, x: area.left, y: 8, colour: .black)
        canvas.strokeRect(x: area.left, y: area.top, width: area.right - area.left + 1,
                          height: area.bottom - area.top + 1, colour: .black)
        for tick in PlotAxes.ticks(xs.lower, xs.upper, integer: integerX) {
            let x = PlotAxes.pixel(tick, lower: xs.lower, upper: xs.upper, start: area.left, end: area.right)
            canvas.line(x0: x, y0: area.bottom, x1: x, y1: area.bottom + LineChart.tickLength, colour: .black)
            let text = PlotAxes.label(tick)
            canvas.text(text, x: x - 3 * text.count, y: area.bottom + 8, colour: .black)
        }
        canvas.text(xLabel, x: (area.left + area.right) / 2 - 3 * xLabel.count, y: height - 12, colour: .black)
        for tick in PlotAxes.ticks(ys.lower, ys.upper) {
            let y = PlotAxes.pixel(tick, lower: ys.lower, upper: ys.upper, start: area.bottom, end: area.top)
            canvas.line(x0: area.left - LineChart.tickLength, y0: y, x1: area.left, y1: y, colour: .black)
            let text = PlotAxes.label(tick)
            canvas.text(text, x: area.left - 8 - 6 * text.count, y: y - 3, colour: .black)
        }
        var legendX = area.left + 8
        for entry in series {
            var previous: (Int, Int)?
            for point in entry.points where point.x.isFinite && point.y.isFinite {
                let x = PlotAxes.pixel(point.x, lower: xs.lower, upper: xs.upper, start: area.left, end: area.right)
                let y = PlotAxes.pixel(min(max(point.y, ys.lower), ys.upper), lower: ys.lower, upper: ys.upper,
                                       start: area.bottom, end: area.top)
                if let (px, py) = previous {
                    canvas.line(x0: px, y0: py, x1: x, y1: y, colour: entry.colour)
                } else {
                    canvas.set(x: x, y: y, entry.colour)
                }
                previous = (x, y)
            }
            canvas.fillRect(x: legendX, y: area.top + 6, width: 10, height: 7, colour: entry.colour)
            legendX += 14 + canvas.text(entry.name, x: legendX + 14, y: area.top + 6, colour: entry.colour) + 10
        }
        return canvas
    }
}
