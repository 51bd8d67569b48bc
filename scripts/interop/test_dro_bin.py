"""The interop checks fail, not skip, when DRO_BIN does not hold the binaries (dro_bin.py).

Runs one real check of test_nifti_interop.py in a child pytest with DRO_BIN pointing at an empty
folder: it must end in a failure that names the missing binary, never in a skip or a pass."""
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def test_missing_binary_fails_the_run(tmp_path):
    env = dict(os.environ, DRO_BIN=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA",
                        str(HERE / "test_nifti_interop.py") + "::test_help_and_usage_errors"],
                       capture_output=True, text=True, env=env, cwd=HERE, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "dro-inspect missing" in out and str(tmp_path) in out, out
    assert "skipped" not in out and "passed" not in out, out
