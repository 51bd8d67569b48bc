"""The README's Slurm line, for real: `srun --mpi=pmix --ntasks=2 dro-train ...` on a Slurm cluster.

Opt-in (not part of scripts/test.sh's run unless asked for): set DRO_SRUN=1 on a machine where
`srun` reaches a Slurm controller with at least 2 CPUs free (docs/scaling.md describes the
single-node slurmctld + slurmd used to check it; SLURM_CONF may point at its slurm.conf). Skipped
otherwise, saying why.

Checked: the 2 tasks started by srun join as 2 MPI ranks (Open MPI's PMIx support, no mpirun),
and the run gives the train_log rows and parameters of the same run under `mpirun -np 2`, bit for
bit (same binary, same ranks, same collectives: nothing may differ but the launcher).
"""
import os
import shutil
import subprocess

import numpy as np
import pytest

from dro_bin import BIN, needs
from test_mpi_training import clean_env, mpirun_path, parameters, write_config
from tiny_run import log_rows, make_demo_data

TRAIN = BIN / "dro-train"

pytestmark = [needs("dro-train"),
              pytest.mark.skipif(os.environ.get("DRO_SRUN") != "1", reason="opt-in: set DRO_SRUN=1 (needs a Slurm controller)"),
              pytest.mark.skipif(shutil.which("srun") is None, reason="srun not installed")]

TIMEOUT = 300


def slurm_env():
    env = clean_env()
    if "SLURM_CONF" in os.environ:
        env["SLURM_CONF"] = os.environ["SLURM_CONF"]
    return env


def test_srun_matches_mpirun(tmp_path):
    r = subprocess.run(["sinfo", "-h", "-o", "%T %c"], capture_output=True, text=True, env=slurm_env(), timeout=30)
    if r.returncode != 0 or not r.stdout.strip():
        pytest.skip(f"no Slurm controller reachable: {r.stderr.strip()}")
    data = make_demo_data(tmp_path / "data")
    cfg_srun, run_srun = write_config(tmp_path, "srun", data, batch=1)
    cfg_mpi, run_mpi = write_config(tmp_path, "mpirun", data, batch=1)
    argv = ["srun", "--mpi=pmix", "--nodes=1", "--ntasks=2", "--cpus-per-task=1", str(TRAIN), "--config", str(cfg_srun)]
    r = subprocess.run(argv, capture_output=True, text=True, env=slurm_env(), timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert "data-parallel: srun, 2 ranks" in r.stdout + r.stderr, r.stdout + r.stderr
    r = subprocess.run([mpirun_path(), "-np", "2", "--oversubscribe", str(TRAIN), "--config", str(cfg_mpi), "--quiet"],
                       capture_output=True, text=True, env=clean_env(), timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert log_rows(run_srun) == log_rows(run_mpi)
    a, b = parameters(run_srun / "checkpoint_latest.ckpt"), parameters(run_mpi / "checkpoint_latest.ckpt")
    assert list(a) == list(b)
    for name in a:
        assert np.array_equal(a[name], b[name]), name
