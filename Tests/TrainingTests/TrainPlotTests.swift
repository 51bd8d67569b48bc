import XCTest
import Evaluation
@testable import Plotting
@testable import Training
import TestSupport

final class TrainPlotTests: XCTestCase {
    func testNiceTicks() {
        XCTAssertEqual(PlotAxes.ticks(0, 1), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        XCTAssertEqual(PlotAxes.ticks(0, 1000), [0, 200, 400, 600, 800, 1000])
        XCTAssertEqual(PlotAxes.ticks(3, 17), [5, 10, 15])  // step 2.8 → 5
        XCTAssertEqual(PlotAxes.ticks(-0.3, 0.3), [-0.2, 0, 0.2], accuracy: 1e-12)  // step 0.12 → 0.2
        XCTAssertEqual(PlotAxes.ticks(2, 2), [2])
        XCTAssertEqual(PlotAxes.ticks(1, 3), [1, 1.5, 2, 2.5, 3])
        XCTAssertEqual(PlotAxes.ticks(1, 3, integer: true), [1, 2, 3])
        XCTAssertEqual(PlotAxes.label(200), "200")
        XCTAssertEqual(PlotAxes.label(0.25), "0.25")
        XCTAssertEqual(PlotAxes.label(0.123456), "0.123")
        XCTAssertEqual(PlotAxes.pixel(0.5, lower: 0, upper: 1, start: 100, end: 0), 50)
        XCTAssertEqual(PlotAxes.pixel(1, lower: 0, upper: 1, start: 10, end: 110), 110)
        XCTAssertTrue(PlotAxes.range([3, 3]) == (2.5, 3.5))
        XCTAssertTrue(PlotAxes.range([.nan]) == (0, 1))
    }

    /// log₁₀(p·N): uniform is white, ×10 full red, ÷10 full blue, beyond saturates.
    func testHeatmapColourScale() {
        XCTAssertEqual(SamplingHeatmap.colour(probability: 0.25, count: 4), RGB(255, 255, 255))
        XCTAssertEqual(SamplingHeatmap.colour(probability: 2.5, count: 4), RGB(255, 0, 0))
        XCTAssertEqual(SamplingHeatmap.colour(probability: 25, count: 4), RGB(255, 0, 0))
        XCTAssertEqual(SamplingHeatmap.colour(probability: 0.025, count: 4), RGB(0, 0, 255))
        // √10 times uniform: t = 0.5, half faded.
        XCTAssertEqual(SamplingHeatmap.colour(probability: 0.25 * 10.0.squareRoot(), count: 4), RGB(255, 128, 128))
        XCTAssertEqual(SamplingHeatmap.colour(probability: .nan, count: 4), RGB(220, 220, 220))
    }

    func testHeatmapCellsCarryTheirColour() {
        var matrix = ProbabilityMatrix()
        matrix.epochs = [1, 2, 3]
        matrix.cases = ["a", "b", "c", "d"]
        matrix.groups = ["common", "common", "rare", "rare"]
        matrix.values = [[0.25, 0.1, 0.05], [0.25, 0.2, 0.15], [0.25, 0.3, 0.3], [0.25, 0.4, 0.5]]
        let canvas = SamplingHeatmap(matrix).render(width: 400, height: 300)
        for row in 0..<4 {
            for column in 0..<3 {
                let cell = SamplingHeatmap.cell(row: row, column: column, rows: 4, columns: 3, width: 400, height: 300)
                XCTAssertEqual(canvas.pixel(x: cell.x + cell.w / 2, y: cell.y + cell.h / 2),
                               SamplingHeatmap.colour(probability: matrix.values[row][column], count: 4), "\(row),\(column)")
            }
        }
        // The rare group's strip is in the second group colour.
        let rareCell = SamplingHeatmap.cell(row: 3, column: 0, rows: 4, columns: 3, width: 400, height: 300)
        XCTAssertEqual(canvas.pixel(x: SamplingHeatmap.margin.left - 6, y: rareCell.y + rareCell.h / 2),
                       TrainingPlots.groupPalette[1])
    }

    func testLineChartDrawsThroughItsPoints() {
        let colour = RGB(10, 20, 30)
        let chart = LineChart(title: "T", xLabel: "X", series: [
            LineChart.Series(name: "S", colour: colour, points: [(0, 0), (10, 1), (20, 0.5)]),
        ], yRange: (0, 1))
        let canvas = chart.render(width: 300, height: 200)
        let area = LineChart.area(width: 300, height: 200)
        for (x, y) in [(0.0, 0.0), (10.0, 1.0), (20.0, 0.5)] {
            let px = PlotAxes.pixel(x, lower: 0, upper: 20, start: area.left, end: area.right)
            let py = PlotAxes.pixel(y, lower: 0, upper: 1, start: area.bottom, end: area.top)
            XCTAssertEqual(canvas.pixel(x: px, y: py), colour, "(\(x), \(y))")
        }
    }

    func testMovingMean() {
        let points: [(x: Double, y: Double)] = [(1, 1), (2, 3), (3, 5), (4, 7)]
        XCTAssertEqual(TrainingPlots.movingMean(points, window: 2).map(\.y), [1, 2, 4, 6])
        XCTAssertEqual(TrainingPlots.movingWindow(10), 1)
        XCTAssertEqual(TrainingPlots.movingWindow(1000), 20)
    }

    func testPlotsAreWrittenAsPNG() throws {
        let folder = NSTemporaryDirectory() + "plots-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try RunDirectory(path: folder)
        let logs = try run.openLogs(resume: nil)
        for i in 1...6 {
            try logs.logIteration(IterationRecord(iteration: i, epoch: (i + 1) / 2, loss: 1 / Double(i), learningRate: 0.01,
                                                  gradientNorm: 1, seconds: 0, cases: ["a"], caseLosses: [1], caseWeights: [1]))
        }
        try logs.logValidation(epoch: 3, rows: [ValidationRow(caseName: "v", label: 1, labelName: "wm", dice: 0.7)])
        try logs.logSampler(epoch: 3, rows: [SamplerRow(index: 0, caseName: "a", group: "", staleLoss: 1, probability: 1, draws: 6)])
        let written = try TrainingPlots.write(run: run)
        XCTAssertEqual(written.map { ($0 as NSString).lastPathComponent }, ["loss.png", "dice.png", "sampling.png"])
        for path in written {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        }
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
