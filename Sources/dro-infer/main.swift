import ArgumentParser
import Commands
import Foundation
import Inference
import Model
import Tensor

extension Connectivity: ExpressibleByArgument {}

/// `dro-infer`: parses arguments and calls `InferCommand.run`; no logic here.
struct DroInfer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dro-infer",
        abstract: "Segment new volumes with a dro-train checkpoint (sliding window, Gaussian weighting).",
        discussion: """
        INPUT: NIfTI files and/or folders. Files named CASE_0000.nii.gz, CASE_0001.nii.gz, ... are the \
        channels of case CASE (nnU-Net imagesTs); any other file is one case (3-D, or 4-D with every \
        channel). Outputs: OUTPUT/CASE.nii.gz (uint8 labels, uint16 above 255) with the input's \
        geometry, and CASE_probabilities.nii.gz (float32, one volume per class) with --probabilities. \
        The checkpoint's preprocessing (crop to non-zero, z-score, resampling) is applied and undone. \
        --largest-component keeps, per label, only its largest connected component (26-connected by \
        default, as nnU-Net; --connectivity 6 for faces only); other components become background.
        Exit status: 0 every case written, 1 a case or the checkpoint failed (each named on stderr), \
        64 usage error.
        """)

    @Option(help: "Checkpoint written by dro-train (e.g. run/checkpoint_best.ckpt).") var model: String
    @Option(parsing: .upToNextOption, help: "Files and/or folders to segment.") var input: [String]
    @Option(help: "Output folder, or a .nii.gz file name for a single case.") var output: String
    @Option(parsing: .upToNextOption, help: "More checkpoints: their softmax is averaged with --model's (same channels, labels, preprocessing).")
    var ensemble: [String] = []
    @Option(help: "Fraction of a window shared with its neighbours, in [0, 1).") var overlap = SlidingWindow.defaultOverlap
    @Option(help: "Windows per forward pass.") var batch = 1
    @Flag(help: "Test-time augmentation: average the logits over the 8 mirrorings of each window.") var tta = false
    @Flag(help: "Also write CASE_probabilities.nii.gz (float32, 4-D: one volume per class).") var probabilities = false
    @Flag(help: "Keep only the largest connected component of each label.") var largestComponent = false
    @Option(help: "Neighbourhood for --largest-component: 6 (faces) or 26 (faces, edges, corners).")
    var connectivity: Connectivity = .nnunetDefault
    @Option(help: "Threads for the network.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Replace existing outputs (otherwise such cases fail and are left as they are).") var overwrite = false
    @Flag(help: "Accept a dataset.json whose channel names differ from the checkpoint's (the count must match).")
    var ignoreChannelNames = false
    @Flag(help: "Print only problems.") var quiet = false

    func validate() throws {
        if input.isEmpty { throw ValidationError("--input needs at least one file or folder") }
        if !(overlap >= 0 && overlap < 1) { throw ValidationError("--overlap must be in [0, 1), got \(overlap)") }
        if batch < 1 { throw ValidationError("--batch must be ≥ 1, got \(batch)") }
        if threads < 1 { throw ValidationError("--threads must be ≥ 1, got \(threads)") }
    }

    func run() throws {
        var options = InferOptions(model: model, inputs: input, output: output)
        options.ensemble = ensemble
        options.settings.overlap = overlap
        options.settings.batch = batch
        options.settings.tta = tta
        options.settings.probabilities = probabilities
        options.settings.largestComponent = largestComponent ? connectivity : nil
        options.threads = threads
        options.overwrite = overwrite
        options.checkChannelNames = !ignoreChannelNames
        options.quiet = quiet
        let status = InferCommand.run(options)
        if status != 0 { throw ExitCode(status) }
    }
}

// First, before any output or thread: vector OpenBLAS kernels (may re-execute; see BLASRuntime).
BLASRuntime.ensureVectorKernels()
DroInfer.main()
