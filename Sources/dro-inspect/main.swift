import ArgumentParser
import Model
import NIfTI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `dro-inspect`: header and value summary of NIfTI files. All logic is in `NIfTI.Inspect`.
@main
struct DroInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dro-inspect",
        abstract: "Show the header, affine and value statistics of NIfTI files (.nii, .nii.gz, .hdr/.img), or the network of dro-train checkpoints (.ckpt).",

        discussion: """
        Exit status: 0 when every file was read, 1 when any failed (the others are still \
        printed; each failure is one line on stderr naming the file), 64 for usage errors.

        --write-copy OUT re-writes the single input through dro-seg's writer (NIfTIImage.like / \
        converted): the input's format (NIfTI-1 or NIfTI-2), geometry, codes and header \
        extensions copied, little-endian, no scaling. It exists so that interoperability tests \
        can make dro-seg write files.

        A FILE ending in .ckpt is read as a dro-train checkpoint: its network (channels, classes, \
        features, per-level kernel_sizes and pool_strides in x y z order, training patch) and its \
        sections.
        """
    )

    @Argument(help: "NIfTI files (or dro-train .ckpt checkpoints) to inspect.")
    var files: [String] = []

    @Flag(name: .long, help: "Print one JSON object per file, one line each.")
    var json = false

    @Option(name: .long, help: "Write the (single) input again to this .nii or .nii.gz path.")
    var writeCopy: String?

    @Option(name: .long, help: "Datatype of --write-copy: \(Inspect.CopyType.choices).")
    var datatype = "same"

    @Option(name: .long, help: "gzip level 0...9 for a .nii.gz --write-copy (default 1, as nibabel).")
    var gzipLevel = NIfTIImage.defaultGzipLevel

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one FILE") }
        if Inspect.CopyType(name: datatype) == nil {
            throw ValidationError("--datatype \(datatype) is not one of: \(Inspect.CopyType.choices)")
        }
        if writeCopy != nil, let first = files.first, CheckpointSummary.isCheckpointPath(first) {
            throw ValidationError("--write-copy copies NIfTI files, not checkpoints (\(first))")
        }
        if writeCopy != nil && files.count != 1 {
            throw ValidationError("--write-copy needs exactly one FILE, got \(files.count)")
        }
        if writeCopy == nil && datatype != "same" {
            throw ValidationError("--datatype only applies with --write-copy")
        }
        if let out = writeCopy, !(out.lowercased().hasSuffix(".nii") || out.lowercased().hasSuffix(".nii.gz")) {
            throw ValidationError("--write-copy \(out) must end in .nii or .nii.gz")
        }
        if !(0...9).contains(gzipLevel) { throw ValidationError("--gzip-level \(gzipLevel) is not in 0...9") }
    }

    func run() throws {
        var failed = false
        // In argument order: checkpoints summarised here, NIfTI files by NIfTI.Inspect.
        for path in files {
            if CheckpointSummary.isCheckpointPath(path) {
                do { print(try CheckpointSummary.report(path: path, json: json)) } catch {
                    fputs("dro-inspect: \(error)\n", stderr)
                    failed = true
                }
                continue
            }
            var options = Inspect.Options(paths: [path])
            options.json = json
            options.writeCopy = writeCopy
            options.copyType = Inspect.CopyType(name: datatype) ?? .same
            options.gzipLevel = gzipLevel
            let status = Inspect.run(options, output: { print($0) }, errors: { line in
                fputs(line + "\n", stderr)
            })
            if status != 0 { failed = true }
        }
        if failed { throw ExitCode(1) }
    }
}
