import ArgumentParser
import Benchmarks
import Cluster
import Foundation

struct CollectivesBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collectives",
        abstract: "Run every collective once across the ranks and print what each rank received (one JSON line per rank).",
        discussion: "Used by scripts/interop/test_mpi.py under mpirun; --fault makes one rank misbehave.")

    @Option(help: "Elements in the Float and Double sums.") var count = 1000
    @Option(help: "Make --rank misbehave: \(CollectiveCheck.Fault.allCases.map(\.rawValue).joined(separator: ", ")).")
    var fault: String?
    @Option(help: "The rank that misbehaves.") var rank = 1
    @Option(help: ArgumentHelp("Write each rank's line to DIR/rank-R.json instead of stdout (mpirun forwards long lines of several ranks interleaved).",
                               valueName: "DIR"))
    var output: String?

    func validate() throws {
        if count < 0 { throw ValidationError("--count must be ≥ 0, got \(count)") }
        if rank < 0 { throw ValidationError("--rank must be ≥ 0, got \(rank)") }
        if let fault, CollectiveCheck.Fault(rawValue: fault) == nil {
            throw ValidationError("--fault must be one of \(CollectiveCheck.Fault.allCases.map(\.rawValue).joined(separator: ", ")), got '\(fault)'")
        }
    }

    func run() throws {
        let comm = try Communicators.fromEnvironment()
        var options = CollectiveCheck.Options()
        options.count = count
        options.fault = fault.flatMap(CollectiveCheck.Fault.init(rawValue:))
        options.faultyRank = rank
        do {
            let line = try CollectiveCheck.run(comm, options: options)
            if let output {
                let path = URL(fileURLWithPath: output).appendingPathComponent("rank-\(comm.rank).json")
                try Data((line + "\n").utf8).write(to: path)
            } else {
                print(line)
                fflush(stdout)
            }
        } catch {
            comm.terminate(after: error)
        }
        comm.finish()
    }
}
