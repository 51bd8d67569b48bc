import ArgumentParser
import Benchmarks

struct NiftiBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nifti",
        abstract: "NIfTI read speed as a ratio to raw zlib inflate (.nii.gz) and to fread (.nii) of the same bytes.")

    @Option(help: "Edge of the cubic float32 test volume.")
    var size = 256

    @Option(help: "Repetitions (the median is reported).")
    var repetitions = 5

    @Option(help: "gzip level of the .nii.gz written (default 1, as nibabel).")
    var gzipLevel = 1

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard (8...1024).contains(size) else { throw ValidationError("--size \(size) is not in 8...1024") }
        guard (1...100).contains(repetitions) else { throw ValidationError("--repetitions \(repetitions) is not in 1...100") }
        guard (0...9).contains(gzipLevel) else { throw ValidationError("--gzip-level \(gzipLevel) is not in 0...9") }
    }

    func run() throws {
        var options = NiftiBenchmark.Options()
        options.size = size
        options.repetitions = repetitions
        options.gzipLevel = gzipLevel
        print(NiftiBenchmark.report(try NiftiBenchmark.run(options), json: json))
    }
}
