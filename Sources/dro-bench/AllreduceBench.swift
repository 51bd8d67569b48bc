import ArgumentParser
import Benchmarks
import Cluster

struct AllreduceBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Time the in-place Float sum over ranks for 1 KiB to 64 MiB (run under mpirun -np R).")

    @Option(help: "Buffer sizes in KiB, comma-separated (default 1,4,…,65536).") var kib: String?
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        if let kib, sizes(kib) == nil { throw ValidationError("--kib must be positive integers separated by commas, got '\(kib)'") }
    }

    func sizes(_ text: String) -> [Int]? {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return parts.map { $0! * 1024 }
    }

    func run() throws {
        let comm = try Communicators.fromEnvironment()
        let rows = AllreduceBenchmark.run(comm, sizes: kib.flatMap(sizes) ?? AllreduceBenchmark.defaultSizes)
        if comm.isRoot { print(try AllreduceBenchmark.report(rows, comm: comm, json: json), terminator: "") }
        comm.finish()
    }
}
