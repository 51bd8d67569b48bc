import Foundation

/// Reads the run's CSV logs back (for plots and summaries).
public enum RunLogReader {
    /// Splits one CSV line written by `CSVLog.line` (RFC 4180 quoting, no line breaks in fields).
    public static func fields(_ line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var iterator = line.makeIterator()
        var pending: Character? = nil
        while let character = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if character == "\"" {
                    let next = iterator.next()
                    if next == "\"" { current.append("\"") } else { quoted = false; pending = next }
                } else {
                    current.append(character)
                }
            } else if character == "\"" && current.isEmpty {
                quoted = true
            } else if character == "," {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }

    /// Rows of a CSV file as dictionaries keyed by the header; rows with a different field
    /// count (a line cut by a kill) are skipped.
    public static func rows(path: String) throws -> [[String: String]] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw RunError.io(path: path, operation: "read", reason: "missing or not UTF-8")
        }
        let lines = text.split(separator: "\n")
        guard let headerLine = lines.first else { return [] }
        let header = fields(headerLine)
        return lines.dropFirst().compactMap { line in
            let values = fields(line)
            guard values.count == header.count else { return nil }
            return Dictionary(uniqueKeysWithValues: zip(header, values))
        }
    }
}

/// The numbers the plots show, extracted from the logs.
public struct RunCurves: Equatable {
    /// (iteration, loss) of every iteration.
    public var loss: [(x: Double, y: Double)]
    /// Label name → (epoch, mean Dice over validation cases); "mean foreground" included.
    public var dice: [(name: String, points: [(x: Double, y: Double)])]
    /// Sampling probability per case (rows) per logged epoch (columns).
    public var probability: ProbabilityMatrix

    public static let meanForegroundName = "mean foreground"

    public static func == (a: RunCurves, b: RunCurves) -> Bool {
        a.loss.map { [$0.x, $0.y] } == b.loss.map { [$0.x, $0.y] }
            && a.dice.map(\.name) == b.dice.map(\.name)
            && a.dice.map { $0.points.map { [$0.x, $0.y] } } == b.dice.map { $0.points.map { [$0.x, $0.y] } }
            && a.probability == b.probability
    }

    /// Reads train_log.csv, val.csv and sampler.csv of a run folder.
    public static func read(run: RunDirectory) throws -> RunCurves {
        let train = try RunLogReader.rows(path: run.file(RunDirectory.trainLogName))
        let loss = train.compactMap { row -> (x: Double, y: Double)? in
            guard let x = row["iteration"].flatMap(Double.init), let y = row["loss"].flatMap(Double.init) else { return nil }
            return (x, y)
        }
        let validation = try RunLogReader.rows(path: run.file(RunDirectory.validationLogName))
        let sampler = try RunLogReader.rows(path: run.file(RunDirectory.samplerLogName))
        return RunCurves(loss: loss, dice: diceCurves(validation), probability: ProbabilityMatrix(rows: sampler))
    }

    /// Per label, the mean Dice over cases at each validation epoch (nan Dice — label absent
    /// from both masks — excluded from the mean), plus the mean over foreground labels.
    static func diceCurves(_ rows: [[String: String]]) -> [(name: String, points: [(x: Double, y: Double)])] {
        var sums: [String: [Int: (sum: Double, count: Int)]] = [:]
        var order: [(label: Int, name: String)] = []
        for row in rows {
            guard let epoch = row["epoch"].flatMap(Int.init), let label = row["label"].flatMap(Int.init),
                  let dice = row["dice"].flatMap(Double.init), let name = row["name"], label > 0, !dice.isNaN
            else { continue }
            if !order.contains(where: { $0.label == label }) { order.append((label, name)) }
            for key in [name, meanForegroundName] {
                let entry = sums[key, default: [:]][epoch, default: (0, 0)]
                sums[key, default: [:]][epoch] = (entry.sum + dice, entry.count + 1)
            }
        }
        let names = order.sorted { $0.label < $1.label }.map(\.name) + (order.isEmpty ? [] : [meanForegroundName])
        return names.map { name in
            (name, (sums[name] ?? [:]).sorted { $0.key < $1.key }.map { (Double($0.key), $0.value.sum / Double($0.value.count)) })
        }
    }
}

/// Sampling probability of each case at each logged epoch, cases grouped.
public struct ProbabilityMatrix: Equatable {
    /// Epochs (columns), ascending.
    public var epochs: [Int] = []
    /// Case names (rows), sorted by group then sample index.
    public var cases: [String] = []
    /// Group of each row.
    public var groups: [String] = []
    /// values[row][column]; nan where a case has no entry for that epoch.
    public var values: [[Double]] = []

    public init() {}

    init(rows: [[String: String]]) {
        var entries: [(index: Int, epoch: Int, name: String, group: String, p: Double)] = []
        for row in rows {
            guard let index = row["index"].flatMap(Int.init), let epoch = row["epoch"].flatMap(Int.init),
                  let p = row["probability"].flatMap(Double.init), let name = row["case"] else { continue }
            entries.append((index, epoch, name, row["group"] ?? "", p))
        }
        epochs = Array(Set(entries.map(\.epoch))).sorted()
        var caseInfo: [Int: (name: String, group: String)] = [:]
        for entry in entries { caseInfo[entry.index] = (entry.name, entry.group) }
        let order = caseInfo.keys.sorted { (caseInfo[$0]!.group, $0) < (caseInfo[$1]!.group, $1) }
        cases = order.map { caseInfo[$0]!.name }
        groups = order.map { caseInfo[$0]!.group }
        let rowOf = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        let columnOf = Dictionary(uniqueKeysWithValues: epochs.enumerated().map { ($1, $0) })
        values = [[Double]](repeating: [Double](repeating: .nan, count: epochs.count), count: order.count)
        for entry in entries {
            if let r = rowOf[entry.index], let c = columnOf[entry.epoch] { values[r][c] = entry.p }
        }
    }
}
