import Foundation

/// The groups file: CSV rows `case,group` (an optional header row `case,group`). Groups name
/// the under-represented populations whose low percentiles robustness is judged on. Rows may
/// name training or test cases; a row naming neither is a problem (likely a typo).
enum GroupsCSV {
    static let headerNames: Set<String> = ["case", "id", "case_id", "subject"]

    static func apply(path: String, to cases: inout [CaseFiles], tests: inout [CaseFiles],
                      problems: inout [DatasetProblem]) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            problems.append(.groups(path: path, line: 0, message: "cannot read the groups file (data.groups)"))
            return
        }
        var seen: [String: Int] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            let number = index + 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            if number == 1 && headerNames.contains(fields[0].lowercased()) { continue }
            guard fields.count == 2, !fields[0].isEmpty, !fields[1].isEmpty else {
                problems.append(.groups(path: path, line: number, message: "found '\(line)', expected 'case,group'"))
                continue
            }
            if let first = seen[fields[0]] {
                problems.append(.groups(path: path, line: number, message: "case \(fields[0]) already has a group on line \(first)"))
                continue
            }
            seen[fields[0]] = number
            if let i = cases.firstIndex(where: { $0.id == fields[0] }) {
                cases[i].group = fields[1]
            } else if let i = tests.firstIndex(where: { $0.id == fields[0] }) {
                tests[i].group = fields[1]
            } else {
                problems.append(.groups(path: path, line: number, message: "case \(fields[0]) is not in the dataset"))
            }
        }
    }
}
