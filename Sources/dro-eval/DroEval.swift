import ArgumentParser
import Commands
import Evaluation

extension HD95Mode: ExpressibleByArgument {}

/// `dro-eval`: Dice and surface distances per label and case, with the robustness view.
/// Parses arguments and calls `EvalCommand.run`.
@main
struct DroEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dro-eval",
        abstract: "Dice, HD, HD95, ASSD per label and case, with percentiles, worst cases and groups.",
        discussion: """
        PRED and GT are two folders matched by case id (CASE.nii.gz) or two files. Spacing comes \
        from the ground truth's affine. Empty masks: Dice 0 (one empty) or nan (both); distances \
        inf (one empty) or nan (both). Exit status 1 when a case could not be scored.
        """)

    @Option(help: "Prediction folder or file.") var pred: String
    @Option(help: "Ground-truth folder or file.") var gt: String
    @Option(help: "Labels to score, e.g. 1,2,3 (default: every non-zero label in the ground truth).")
    var labels: String?
    @Option(name: .customLong("dataset-json"), help: "Take labels and names from this dataset.json.")
    var datasetJSON: String?
    @Option(help: "HD95: directed = max of the two directed P95 (MONAI, default); pooled = MedPy.")
    var hd95: HD95Mode = .directed
    @Option(name: .customLong("surface-dice"), help: "Add normalised surface Dice at this tolerance (mm): MONAI's boundary-voxel count (d ≤ tolerance).")
    var surfaceDice: Double?
    @Option(help: "CSV file mapping case,group for per-group summaries.") var groups: String?
    @Option(help: "Number of worst cases listed per label.") var worst: Int = Robustness.defaultWorstCount
    @Option(help: "A second prediction folder/file shown side by side (e.g. ERM vs DRO).") var compare: String?
    @Option(help: "Write per-case rows to this CSV file.") var csv: String?
    @Option(help: "Write the summary to this JSON file.") var json: String?
    @Option(help: "Write a self-contained HTML report (index.html) into this folder.") var html: String?
    @Option(help: "Intensity image folder (CASE_0000.nii.gz) or file for the HTML overlays.") var image: String?

    func validate() throws {
        if worst < 0 { throw ValidationError("--worst must be ≥ 0, got \(worst)") }
        if let t = surfaceDice, !(t.isFinite && t >= 0) {
            throw ValidationError("--surface-dice must be a finite tolerance ≥ 0 mm, got \(t)")
        }
        if labels != nil && datasetJSON != nil {
            throw ValidationError("--labels and --dataset-json are exclusive: give one of them")
        }
    }

    func run() throws {
        var o = EvalOptions(pred: pred, gt: gt)
        o.labels = labels; o.datasetJSON = datasetJSON; o.hd95Mode = hd95; o.surfaceDiceTolerance = surfaceDice
        o.groups = groups; o.worst = worst; o.compare = compare; o.csv = csv; o.json = json
        o.html = html; o.image = image
        let status = EvalCommand.run(o)
        if status != 0 { throw ExitCode(status) }
    }
}
