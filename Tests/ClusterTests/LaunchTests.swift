// Launch detection reads only the launcher's environment variables: MPI is initialised only
// under mpirun/srun with more than one rank, never for a plain run (which must behave exactly as
// before MPI support existed).

import XCTest
@testable import Cluster

final class LaunchTests: XCTestCase {
    func testPlainProcessIsSingle() throws {
        XCTAssertEqual(try Launch.detect([:]), .single)
        XCTAssertEqual(try Launch.detect(["HOME": "/root", "OMP_NUM_THREADS": "2"]), .single)
    }

    func testOpenMPIRun() throws {
        XCTAssertEqual(try Launch.detect(["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"]),
                       .mpi(launcher: "mpirun (Open MPI)", size: 2))
    }

    /// `mpirun -np 1` needs no MPI at all.
    func testOneRankIsSingle() throws {
        XCTAssertEqual(try Launch.detect(["OMPI_COMM_WORLD_SIZE": "1"]), .single)
        XCTAssertEqual(try Launch.detect(["SLURM_STEP_NUM_TASKS": "1", "SLURM_PROCID": "0"]), .single)
    }

    func testPMILaunchers() throws {
        XCTAssertEqual(try Launch.detect(["PMI_SIZE": "4", "PMI_RANK": "3"]), .mpi(launcher: "PMI launcher", size: 4))
        XCTAssertEqual(try Launch.detect(["PMIX_RANK": "0"]), .mpi(launcher: "PMIx launcher", size: nil))
    }

    func testSrunStepButNotSbatchScript() throws {
        XCTAssertEqual(try Launch.detect(["SLURM_STEP_NUM_TASKS": "8", "SLURM_PROCID": "5", "SLURM_NTASKS": "8"]),
                       .mpi(launcher: "srun", size: 8))
        // An sbatch script has the job's task count but is one process until it calls srun.
        XCTAssertEqual(try Launch.detect(["SLURM_NTASKS": "8", "SLURM_PROCID": "0", "SLURM_JOB_ID": "17"]), .single)
        XCTAssertEqual(try Launch.detect(["SLURM_STEP_NUM_TASKS": "8"]), .single)
    }

    /// Open MPI's variable wins over Slurm's when mpirun runs inside an allocation.
    func testOpenMPIFirst() throws {
        XCTAssertEqual(try Launch.detect(["OMPI_COMM_WORLD_SIZE": "2", "SLURM_STEP_NUM_TASKS": "1", "SLURM_PROCID": "0"]),
                       .mpi(launcher: "mpirun (Open MPI)", size: 2))
    }

    func testGarbledSizeIsAnErrorNamingTheVariable() {
        for bad in ["two", "0", "-3", ""] {
            XCTAssertThrowsError(try Launch.detect(["OMPI_COMM_WORLD_SIZE": bad])) { error in
                XCTAssertEqual(error as? ClusterError, .launch("OMPI_COMM_WORLD_SIZE is '\(bad)', not a number of ranks"))
            }
        }
    }

    /// Without a launcher (or with one rank) the factory never calls MPI_Init.
    func testFactoryGivesSingleProcessWithoutLauncher() throws {
        XCTAssertTrue(try Communicators.fromEnvironment([:]) is SingleProcess)
        XCTAssertTrue(try Communicators.fromEnvironment(["OMPI_COMM_WORLD_SIZE": "1"]) is SingleProcess)
        XCTAssertThrowsError(try Communicators.fromEnvironment(["PMI_SIZE": "x"]))
    }
}
