import Foundation

/// Inline SVG box plots: box from P25 to P75 with the median, whiskers at P5 and P95, every
/// finite value as a dot (non-finite values are listed in the caption instead).
enum BoxPlotSVG {
    struct Series {
        var name: String
        var values: [Double]
    }

    static let boxWidth = 46.0
    static let gap = 30.0
    static let plotHeight = 180.0
    static let margin = (left: 50.0, top: 24.0, bottom: 40.0)

    /// One plot of several series on a shared y axis from `yMin` to the largest value (at least
    /// `yMaxAtLeast`).
    static func render(title: String, series: [Series], yMin: Double = 0, yMaxAtLeast: Double) -> String {
        let finiteMax = series.flatMap { $0.values.filter(\.isFinite) }.max() ?? yMaxAtLeast
        let yMax = max(yMaxAtLeast, finiteMax)
        let width = margin.left + Double(series.count) * (boxWidth + gap) + gap
        let height = margin.top + plotHeight + margin.bottom
        func y(_ v: Double) -> Double { margin.top + plotHeight * (1 - (v - yMin) / max(1e-12, yMax - yMin)) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "font-family=\"sans-serif\" font-size=\"11\">"
        s += "<text x=\"4\" y=\"14\" font-weight=\"bold\">\(TextFormat.html(title))</text>"
        for k in 0...4 {
            let v = yMin + (yMax - yMin) * Double(k) / 4
            s += line(margin.left - 4, y(v), width - 4, y(v), "#ddd")
            s += "<text x=\"\(f(margin.left - 6))\" y=\"\(f(y(v) + 4))\" text-anchor=\"end\">\(TextFormat.fixed(v, 2))</text>"
        }
        for (i, serie) in series.enumerated() {
            let x0 = margin.left + gap + Double(i) * (boxWidth + gap), xc = x0 + boxWidth / 2
            let finite = serie.values.filter(\.isFinite).sorted()
            let excluded = serie.values.count - finite.count
            let label = "\(serie.name) (n=\(finite.count)\(excluded > 0 ? ", \(excluded) non-finite" : ""))"
            s += "<text x=\"\(f(xc))\" y=\"\(f(height - 22))\" text-anchor=\"middle\">\(TextFormat.html(label))</text>"
            guard !finite.isEmpty else { continue }
            let p = { Statistics.percentile(sorted: finite, $0) }
            s += line(xc, y(p(5)), xc, y(p(95)), "#333")
            s += line(x0 + 10, y(p(5)), x0 + boxWidth - 10, y(p(5)), "#333")
            s += line(x0 + 10, y(p(95)), x0 + boxWidth - 10, y(p(95)), "#333")
            s += "<rect x=\"\(f(x0))\" y=\"\(f(y(p(75))))\" width=\"\(f(boxWidth))\" "
                + "height=\"\(f(max(1, y(p(25)) - y(p(75)))))\" fill=\"#9cc3e6\" stroke=\"#333\"/>"
            s += line(x0, y(p(50)), x0 + boxWidth, y(p(50)), "#c00")
            for v in finite {
                s += "<circle cx=\"\(f(xc))\" cy=\"\(f(y(v)))\" r=\"2\" fill=\"#000\" fill-opacity=\"0.4\"/>"
            }
        }
        return s + "</svg>"
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ colour: String) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(colour)\"/>"
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
