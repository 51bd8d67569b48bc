import Foundation

/// How this process was started, read from the launcher's environment variables only — before
/// and without MPI_Init, so a plain `dro-train` never initialises MPI (no daemons, no network
/// probing, no banners) and behaves exactly as it did without MPI support.
public enum Launch: Equatable, Sendable {
    /// Not started by an MPI launcher, or started as a single rank.
    case single
    /// Started by `launcher` as one of `size` ranks; size is nil when the launcher (PMIx alone)
    /// does not say, and MPI_Init will tell.
    case mpi(launcher: String, size: Int?)

    /// Reads the launcher variables, first match wins:
    /// - `OMPI_COMM_WORLD_SIZE`: Open MPI's `mpirun`/`mpiexec` (and `prterun`);
    /// - `PMI_SIZE`: PMI-1/PMI-2 launchers (MPICH's hydra, Intel MPI, `srun --mpi=pmi2`);
    /// - `SLURM_STEP_NUM_TASKS` with `SLURM_PROCID`: `srun` — the step variable, not
    ///   SLURM_NTASKS, which an `sbatch` script without `srun` also has;
    /// - `PMIX_RANK` alone: some other PMIx launcher.
    /// A size of 1 is a single process. A variable that is set but not a positive count is an
    /// error: guessing "single" there would start R independent runs writing the same folder.
    public static func detect(_ environment: [String: String]) throws -> Launch {
        let sized: [(variable: String, launcher: String, needs: String?)] = [
            ("OMPI_COMM_WORLD_SIZE", "mpirun (Open MPI)", nil),
            ("PMI_SIZE", "PMI launcher", nil),
            ("SLURM_STEP_NUM_TASKS", "srun", "SLURM_PROCID"),
        ]
        for (variable, launcher, needs) in sized {
            guard let text = environment[variable] else { continue }
            if let needs, environment[needs] == nil { continue }
            guard let size = Int(text.trimmingCharacters(in: .whitespaces)), size >= 1 else {
                throw ClusterError.launch("\(variable) is '\(text)', not a number of ranks")
            }
            return size == 1 ? .single : .mpi(launcher: launcher, size: size)
        }
        if environment["PMIX_RANK"] != nil { return .mpi(launcher: "PMIx launcher", size: nil) }
        return .single
    }
}

/// Builds the communicator this process should use.
public enum Communicators {
    /// `SingleProcess` unless started by an MPI launcher with more than one rank; then
    /// `MPICommunicator`, after checking that MPI joined as many ranks as the launcher announced
    /// (a mismatch means an MPI library that does not match the launcher, e.g. `srun` without
    /// `--mpi=pmix`: every process would otherwise train alone and overwrite the others' files).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> any Communicator
    {
        guard case .mpi(let launcher, let expected) = try Launch.detect(environment) else { return SingleProcess() }
        let mpi = MPICommunicator(launcher: launcher)
        if let expected, mpi.size != expected {
            throw ClusterError.launch("\(launcher) announced \(expected) ranks but MPI joined \(mpi.size): "
                + "the MPI library does not match the launcher (with srun, try --mpi=pmix)")
        }
        if mpi.size == 1 {
            mpi.finish()
            return SingleProcess()
        }
        return mpi
    }
}

extension Launch {
    /// Under Open MPI's mpirun, SIGINT/SIGTERM sent to mpirun (Ctrl-C in the terminal: the ranks
    /// have process groups of their own) are not passed on at once: mpirun waits
    /// `odls_base_sigkill_timeout` seconds, sends the ranks SIGTERM, waits as long again and sends
    /// SIGKILL (Open MPI 4.1's odls). With the default of 1 s no iteration can end and save. A note
    /// naming the option when mpirun started this rank and the option (passed on to the ranks as
    /// OMPI_MCA_odls_base_sigkill_timeout) is unset or at most 1 s; nil otherwise.
    public static func mpirunSignalNote(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard environment["OMPI_COMM_WORLD_SIZE"] != nil, environment["OMPI_MCA_orte_hnp_uri"] != nil else { return nil }
        if let text = environment["OMPI_MCA_odls_base_sigkill_timeout"], let seconds = Int(text), seconds > 1 { return nil }
        return "note: after Ctrl-C, mpirun signals the ranks 1 s later and kills them 1 s after that, too soon to save; "
            + "start it with --mca odls_base_sigkill_timeout T, T longer than a step plus a checkpoint write (README)"
    }
}
