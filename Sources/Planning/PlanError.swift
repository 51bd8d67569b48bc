/// Why dro-plan cannot plan (one line each, naming the file, case or option).
public enum PlanError: Error, CustomStringConvertible, Equatable {
    case emptyDataset(String)
    case budgetTooSmall(budgetHours: Double, minimumHours: Double, network: String, minEpochs: Int, stepSeconds: Double)
    case noCandidate(String)
    case invalidOption(name: String, value: String, allowed: String)

    static func hours(_ h: Double) -> String { String(format: "%.3g", h) }

    public var description: String {
        switch self {
        case .emptyDataset(let path):
            return "\(path): the dataset has no training cases"
        case let .budgetTooSmall(budget, minimum, network, epochs, step):
            let need = (minimum * 1.05 * 1000).rounded(.up) / 1000
            return "a budget of \(PlanError.hours(budget)) h is too small: the smallest network (\(network)) needs "
                + "\(PlanError.hours(minimum)) h for the minimum of \(epochs) epochs (\(String(format: "%.3f", step)) s per step measured here); "
                + "give --budget-hours \(PlanError.hours(need)) or more, or lower --min-epochs"
        case .noCandidate(let why):
            return "no network to plan: \(why)"
        case let .invalidOption(name, value, allowed):
            return "\(name) \(value): expected \(allowed)"
        }
    }
}
