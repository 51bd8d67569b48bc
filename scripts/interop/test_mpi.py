"""The Cluster module under a real MPI launcher: `mpirun -np 2 --oversubscribe dro-bench collectives`
runs every collective once on 2 ranks and each rank writes what it received as one JSON line.

Checked here, independently of the Swift code: the Float and Double sums bit for bit against
float32/float64 sums computed with numpy (with 2 ranks the sum of each element is one correctly
rounded addition, so there is exactly one right answer); gathers ordered by rank; the broadcast;
and how a run ends when one rank fails, dies or disagrees — always within a timeout (never a
hang), with a message naming the rank and the reason. mpirun is required: CI installs it with
scripts/setup.sh, so a missing mpirun fails these tests instead of skipping them.

Run by scripts/test.sh with DRO_BIN = the release bin folder."""
import json
import os
import shutil
import signal
import subprocess

import numpy as np
import pytest

from dro_bin import BIN, needs

DRO_BENCH = BIN / "dro-bench"

pytestmark = needs("dro-bench")

# A faulty run must end well within this (it takes ~2 s here); longer means a hang.
TIMEOUT = 60
COUNT = 2000


def clean_env():
    """This process's environment without launcher variables, plus Open MPI's consent to run as root."""
    launcher = ("OMPI_", "PMI_", "PMIX_", "SLURM_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(launcher)}
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    return env


def run(argv, env=None):
    """Runs argv in its own process group; on timeout kills the whole group (mpirun and its
    ranks) and fails the test as a hang."""
    argv = [str(a) for a in argv]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env or clean_env(), start_new_session=True)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"{' '.join(argv)} hung for {TIMEOUT} s\nstdout: {out}\nstderr: {err}")
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def mpirun(*args, ranks=2):
    mpirun_path = shutil.which("mpirun")
    assert mpirun_path, "mpirun not found: install openmpi-bin (scripts/setup.sh does)"
    return run([mpirun_path, "-np", str(ranks), "--oversubscribe", str(DRO_BENCH), *map(str, args)])


def collectives(tmp_path, *args):
    """mpirun -np 2 dro-bench collectives; returns the process and what each rank wrote, by rank.
    Each rank writes its own file: mpirun forwards the stdout of several ranks in chunks, and
    lines longer than a chunk (4 KiB here) arrive interleaved."""
    r = mpirun("collectives", "--output", tmp_path, *args)
    lines = {}
    for path in sorted(tmp_path.glob("rank-*.json")):
        line = json.loads(path.read_text())
        lines[line["rank"]] = line
    return r, lines


def values(rank, dtype):
    """Rank `rank`'s data as dro-bench collectives builds it: ((i·7919 + rank·104729) mod 10007) / 3."""
    i = np.arange(COUNT, dtype=np.int64)
    return ((i * 7919 + rank * 104729) % 10007).astype(dtype) / dtype(3)


def test_mpirun_is_installed():
    assert shutil.which("mpirun"), "mpirun not found: install openmpi-bin (scripts/setup.sh does)"


def test_sums_are_exact_and_identical_on_every_rank(tmp_path):
    r, ranks = collectives(tmp_path, "--count", COUNT)
    assert r.returncode == 0, r.stderr
    assert sorted(ranks) == [0, 1], r.stdout
    floats = (values(0, np.float32) + values(1, np.float32)).astype(np.float32)
    doubles = values(0, np.float64) + values(1, np.float64)
    for rank, line in ranks.items():
        assert line["size"] == 2 and "mpirun" in line["launch"], line["launch"]
        got_floats = np.array(line["float_sum_bits"], dtype=np.uint32).view(np.float32)
        assert np.array_equal(got_floats.view(np.uint32), floats.view(np.uint32)), f"rank {rank} Float sums"
        got_doubles = np.array([int(h, 16) for h in line["double_sum_bits"]], dtype=np.uint64).view(np.float64)
        assert np.array_equal(got_doubles.view(np.uint64), doubles.view(np.uint64)), f"rank {rank} Double sums"
    # The data are not trivially equal across ranks (the check would pass for a copy otherwise).
    assert not np.array_equal(values(0, np.float32), values(1, np.float32))


def test_gathers_are_ordered_by_rank_and_broadcast_comes_from_rank_zero(tmp_path):
    r, ranks = collectives(tmp_path, "--count", 10)
    assert r.returncode == 0, r.stderr
    assert sorted(ranks) == [0, 1], r.stdout
    for line in ranks.values():
        assert line["gathered_doubles"] == [[0.5, 0.0], [10.5, -1.0]]
        assert line["gathered_strings"] == ["rank 0", "rank 1·"]
        assert line["broadcast"] == "from rank 0"


def test_without_mpirun_a_single_process_needs_no_mpi():
    r = run([str(DRO_BENCH), "collectives", "--count", 10])
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    line = json.loads(r.stdout)
    assert (line["size"], line["launch"]) == (1, "single process")
    own = values(0, np.float32)[:10]
    assert line["float_sum_bits"] == own.view(np.uint32).tolist()
    assert line["gathered_strings"] == ["rank 0"]


@pytest.mark.parametrize("rank", [0, 1])
def test_failing_rank_aborts_every_rank_with_its_message(tmp_path, rank):
    r, ranks = collectives(tmp_path, "--fault", "abort", "--rank", rank)
    assert r.returncode == 1, r.stderr
    assert f"rank {rank}: injected failure (abort) before the allreduce" in r.stderr
    assert ranks == {}


def test_failure_reported_at_check_ends_every_rank_in_order(tmp_path):
    r, ranks = collectives(tmp_path, "--fault", "check", "--rank", 1)
    assert r.returncode == 1, r.stderr
    # Printed once, by rank 0, for the failure rank 1 reported.
    assert r.stderr.count("rank 1: injected failure (check) at step 0") == 1, r.stderr
    assert ranks == {}


def test_rank_that_exits_early_takes_the_others_down(tmp_path):
    r, ranks = collectives(tmp_path, "--fault", "exit", "--rank", 1)
    assert r.returncode == 3, r.stderr
    assert "rank 1: exited with status 3 before finishing; stopping every rank" in r.stderr
    assert ranks == {}


def test_rank_that_is_killed_takes_the_others_down(tmp_path):
    r, ranks = collectives(tmp_path, "--fault", "kill", "--rank", 1)
    assert r.returncode == 128 + signal.SIGKILL, r.stderr
    assert "process rank 1" in r.stderr and "signal 9" in r.stderr  # mpirun's own report
    assert ranks == {}


def test_mismatched_config_is_refused(tmp_path):
    r, ranks = collectives(tmp_path, "--fault", "config", "--rank", 1)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("ranks disagree on the config hash: rank 1 has 0x") == 1, r.stderr
    assert ranks == {}


def test_diverged_parameters_are_refused(tmp_path):
    r, ranks = collectives(tmp_path, "--count", 1000, "--fault", "parameters", "--rank", 1)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("parameters differ across ranks at step 1: rank 1 (1000 values, sum ") == 1, r.stderr
    assert "against rank 0 (1000 values" in r.stderr
    assert ranks == {}


def test_allreduce_benchmark_reports_every_size():
    r = mpirun("allreduce", "--kib", "1,64", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)  # rank 0 alone prints
    assert report["ranks"] == 2
    assert [s["bytes"] for s in report["sizes"]] == [1024, 65536]
    assert all(s["microseconds"] > 0 for s in report["sizes"])
