"""What the interop checks that train tiny runs share: the phantom they train on and how they
compare two runs' train_log.csv (every column but the wall-clock ones must repeat exactly)."""
import csv
import subprocess

from dro_bin import BIN

TRAIN = BIN / "dro-train"
# Columns of train_log.csv that hold wall-clock time.
CLOCK_COLUMNS = {"seconds", "data_seconds", "step_seconds"}


def make_demo_data(folder, cases=8, rare_fraction=0.25, seed=2, test_cases=3):
    """Writes the built-in phantom (nnU-Net v2 layout) with dro-train --make-demo-data."""
    r = subprocess.run([str(TRAIN), "--make-demo-data", str(folder), "--cases", str(cases),
                        "--rare-fraction", str(rare_fraction), "--seed", str(seed), "--test-cases", str(test_cases)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return folder


def log_rows(run):
    """train_log.csv of a run folder without its clock columns."""
    with open(run / "train_log.csv") as f:
        return [{k: v for k, v in row.items() if k not in CLOCK_COLUMNS} for row in csv.DictReader(f)]
