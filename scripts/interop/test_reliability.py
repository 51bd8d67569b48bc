"""Reliability on the real command line: real signals (SIGINT, SIGTERM, SIGKILL) sent to
dro-train and dro-infer at several moments, a full disk (RLIMIT_FSIZE) during checkpoint and
prediction writes, and folders the user may not list or write (run as `nobody`, since root
passes every permission check). What each case checks is written in its docstring; the table of
outcomes is docs/reliability.md.

Run by scripts/test.sh with DRO_BIN = the release bin folder. About a minute."""
import os
import pathlib
import resource
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from dro_bin import BIN, needs
from tiny_run import log_rows, make_demo_data

ROOT = pathlib.Path(__file__).resolve().parents[2]
TRAIN, INFER = BIN / "dro-train", BIN / "dro-infer"

pytestmark = needs("dro-train", "dro-infer")

ITERATIONS = 60          # 6 epochs × 10 iterations; a checkpoint at every epoch end

CONFIG = """
data:
  dataset: {data}
  groups: {data}/groups.csv
  val_fraction: 0.25
model:
  features: [4, 8]
sampler:
  kind: hardness
  beta: 10
training:
  patch_size: [16, 16, 16]
  batch_size: 2
  epochs: 6
  iterations_per_epoch: 10
  optimizer: adamw
  lr: 0.002
  momentum: 0.9
  nesterov: false
  threads: 1
  val_every: 2
  seed: 5
output:
  dir: {run}
  plots: false
  checkpoint_every: 1     # epochs: a checkpoint every 10 iterations
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("reliability")
    return root, make_demo_data(root / "data")


def config(root, data, run):
    path = root / f"{run.name}.cfg"
    path.write_text(CONFIG.format(data=data, run=run))
    return path


def train(cfg, *extra, **kwargs):
    return subprocess.run([str(TRAIN), "--config", str(cfg), "--quiet", *extra], capture_output=True, text=True,
                          timeout=600, **kwargs)


@pytest.fixture(scope="module")
def reference(dataset):
    """An uninterrupted run: the rows every interrupted-and-resumed run must reproduce."""
    root, data = dataset
    run = root / "reference"
    r = train(config(root, data, run))
    assert r.returncode == 0, r.stderr
    rows = log_rows(run)
    assert len(rows) == ITERATIONS
    return rows


def start_and_signal(cfg, sig, after_seconds):
    """Starts dro-train, waits for its "loading" line (the handler is installed before it: a
    signal in the first milliseconds of a process, before any program can install one, would
    test the kernel, not dro-train), sends `sig` after the given time, returns (status, the
    lines after the progress output)."""
    p = subprocess.Popen([str(TRAIN), "--config", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    first = p.stderr.readline()
    assert first.startswith("loading "), first
    time.sleep(after_seconds)
    p.send_signal(sig)
    _, err = p.communicate(timeout=300)
    return p.returncode, "\n".join(line for line in err.splitlines() if line.startswith("dro-train:"))


@pytest.mark.parametrize("sig,status,delay", [
    (signal.SIGTERM, 143, 0.0),    # while loading cases or building the network
    (signal.SIGINT, 130, 1.0),
    (signal.SIGTERM, 143, 2.0),    # training, validation or a checkpoint write, by timing
    (signal.SIGINT, 130, 3.5),
])
def test_stop_signal_saves_and_resume_repeats_the_uninterrupted_run(dataset, reference, tmp_path, sig, status, delay):
    """SIGINT/SIGTERM at any moment: exit 130/143 with one line naming the signal, a loadable
    checkpoint if any iteration ran, and `--resume` ends with train_log rows equal (all but the
    clock columns) to the uninterrupted run's. A run that finished before the signal arrived is
    also fine (exit 0, same rows)."""
    root, data = dataset
    run = tmp_path / "run"
    cfg = config(root, data, run)
    code, err = start_and_signal(cfg, sig, delay)
    assert code in (status, 0), err
    if code == status:
        name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
        assert f"stopped by {name}" in err, err
        assert len(err.strip().splitlines()) == 1, err
        if (run / "checkpoint_latest.ckpt").exists():
            r = train(cfg, "--resume")
        else:   # stopped before the first iteration: nothing to resume, start again
            shutil.rmtree(run, ignore_errors=True)
            r = train(cfg)
        assert r.returncode == 0, r.stderr
    assert log_rows(run) == reference


@pytest.mark.parametrize("delay", [1.5, 3.0])
def test_sigkill_leaves_a_checkpoint_that_resumes_identically(dataset, reference, tmp_path, delay):
    """SIGKILL cannot be caught: whatever moment it hits, the latest checkpoint on disk is whole
    (written atomically) and `--resume` reproduces the uninterrupted run from it; no temporary
    file is left under a final name."""
    root, data = dataset
    run = tmp_path / "run"
    cfg = config(root, data, run)
    code, _ = start_and_signal(cfg, signal.SIGKILL, delay)
    assert code in (-signal.SIGKILL, 0)
    if not (run / "checkpoint_latest.ckpt").exists():
        pytest.skip("killed before the first checkpoint; nothing to resume (covered by the other delays)")
    r = train(cfg, "--resume")
    assert r.returncode == 0, r.stderr
    assert log_rows(run) == reference


def limit_file_size(limit):
    def apply():
        # SIGXFSZ would kill the process; ignored, the write fails with EFBIG as on a full disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def interrupt_after_first_checkpoint(cfg, run):
    """Starts dro-train and sends SIGTERM once checkpoint_latest.ckpt exists; returns its status."""
    p = subprocess.Popen([str(TRAIN), "--config", str(cfg), "--quiet"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "checkpoint_latest.ckpt").exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=300)
    return p.returncode, err


def test_full_disk_during_checkpoint_write_keeps_the_previous_checkpoint(dataset, tmp_path):
    """A checkpoint that does not fit (RLIMIT_FSIZE below its size, as a full disk): a one-line
    error naming the checkpoint and the failed write, exit 1, the previous checkpoint
    byte-for-byte intact, no half-written file left in the run folder."""
    root, data = dataset
    run = tmp_path / "run"
    cfg = config(root, data, run)
    code, err = interrupt_after_first_checkpoint(cfg, run)
    assert code == 143, err
    before = (run / "checkpoint_latest.ckpt").read_bytes()
    limit = len(before) // 2
    assert all(f.stat().st_size < limit for f in run.iterdir() if f.suffix == ".csv"), "logs would hit the limit first"
    r = train(cfg, "--resume", preexec_fn=limit_file_size(limit))
    assert r.returncode == 1, r.stderr
    # The epoch end writes checkpoint_best (validation) or checkpoint_latest first; either is named,
    # never the temporary file.
    assert "File too large" in r.stderr and ".ckpt: cannot write" in r.stderr and ".tmp" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert (run / "checkpoint_latest.ckpt").read_bytes() == before
    assert not [p.name for p in run.iterdir() if ".tmp" in p.name or p.name.startswith(".")]


def test_resume_under_other_kernels_warns(dataset, tmp_path):
    """The checkpoint records OpenBLAS's core and our kernel choices; resuming where they differ
    (here: DRO_PORTABLE_KERNELS=1 turns our AVX2/AVX-512 kernels off) continues with a warning
    that names the difference; resuming under the same kernels says nothing."""
    root, data = dataset
    run = tmp_path / "run"
    cfg = config(root, data, run)
    code, err = interrupt_after_first_checkpoint(cfg, run)
    assert code == 143, err
    saved = (run / "checkpoint_latest.ckpt").read_bytes()
    r = train(cfg, "--resume")
    assert r.returncode == 0 and "other kernels" not in r.stderr, r.stderr
    if " avx2" not in open("/proc/cpuinfo").read():
        pytest.skip("no AVX2: the portable kernels are the only ones, nothing differs")
    (run / "checkpoint_latest.ckpt").write_bytes(saved)
    r = train(cfg, "--resume", env={**os.environ, "DRO_PORTABLE_KERNELS": "1"})
    assert r.returncode == 0, r.stderr
    assert "was written with other kernels (" in r.stderr and "→ swift" in r.stderr, r.stderr


@pytest.fixture(scope="module")
def model(dataset):
    root, data = dataset
    run = root / "model"
    r = train(config(root, data, run), "--set", "training.epochs=1")
    assert r.returncode == 0, r.stderr
    return run / "checkpoint_latest.ckpt"


def infer(*args, **kwargs):
    return subprocess.run([str(INFER), *map(str, args), "--threads", "1"], capture_output=True, text=True,
                          timeout=300, **kwargs)


def test_infer_removes_leftovers_of_a_killed_run_and_keeps_overwrite_semantics(dataset, model, tmp_path):
    """A temporary file left by a killed dro-infer (dead pid) is removed by the next run and
    reported; without --overwrite existing outputs are kept and their cases fail; with it they
    are replaced."""
    root, data = dataset
    out = tmp_path / "pred"
    out.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    case = sorted((data / "imagesTs").iterdir())[0].name.replace("_0000.nii.gz", "")
    leftover = out / f"{case}.nii.gz.tmp{dead.pid}"
    leftover.write_bytes(b"half a file")
    r = infer("--model", model, "--input", data / "imagesTs", "--output", out)
    assert r.returncode == 0, r.stderr
    assert not leftover.exists()
    assert "removed 1 unfinished file(s)" in r.stderr
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]
    written = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    r = infer("--model", model, "--input", data / "imagesTs", "--output", out)
    assert r.returncode == 1 and "exists; not overwritten" in r.stderr, r.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == written
    r = infer("--model", model, "--input", data / "imagesTs", "--output", out, "--overwrite")
    assert r.returncode == 0, r.stderr


def test_infer_stops_between_cases_on_sigterm(dataset, model, tmp_path):
    """SIGTERM while segmenting a folder: exit 143 after the current case, every written output
    whole (nibabel reads it), no temporary files."""
    nib = pytest.importorskip("nibabel")
    root, data = dataset
    out = tmp_path / "pred"
    p = subprocess.Popen([str(INFER), "--model", str(model), "--input", str(data / "imagesTs"), "--output", str(out),
                          "--threads", "1", "--tta"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=300)
    assert p.returncode in (143, 0), err
    if p.returncode == 143:
        assert "stopped by SIGTERM" in err, err
    for f in out.iterdir():
        assert ".tmp" not in f.name
        nib.load(str(f)).get_fdata()


def as_nobody():
    """preexec_fn: drop root, so permissions apply (root passes every check)."""
    def apply():
        os.setgid(65534)
        os.setuid(65534)
    return apply


def test_unwritable_output_and_unlistable_input_are_reported_before_any_work(dataset, model):
    """As an ordinary user: an output folder without write permission fails at start, naming
    the folder; an input folder that cannot be listed fails naming it — not "no volumes"."""
    root, data = dataset
    # pytest's tmp_path lives under a folder only root may enter: use one `nobody` can reach.
    base = pathlib.Path(tempfile.mkdtemp(prefix="dro-reliability-"))
    try:
        os.chmod(base, 0o755)
        shutil.copy(model, base / "model.ckpt")
        readonly = base / "readonly"
        readonly.mkdir(mode=0o555)
        os.chmod(readonly, 0o555)
        inputs = base / "inputs"
        shutil.copytree(data / "imagesTs", inputs)
        for f in [base / "model.ckpt", *inputs.iterdir()]:
            os.chmod(f, 0o644)
        r = infer("--model", base / "model.ckpt", "--input", inputs, "--output", readonly, preexec_fn=as_nobody())
        assert r.returncode == 1, r.stderr
        assert f"{readonly}" in r.stderr and "cannot create files in the output folder" in r.stderr, r.stderr
        # dro-train: the same before any case is loaded
        cfg = base / "train.cfg"
        shutil.copytree(data, base / "data")
        subprocess.run(["chmod", "-R", "a+rX", str(base / "data")], check=True)
        cfg.write_text(CONFIG.format(data=base / "data", run=readonly))   # exists, not writable
        os.chmod(cfg, 0o644)
        r = subprocess.run([str(TRAIN), "--config", str(cfg)], capture_output=True, text=True, timeout=300,
                           preexec_fn=as_nobody())
        assert r.returncode == 1, r.stderr
        assert f"cannot create files in the output folder {readonly}: permission denied" in r.stderr, r.stderr
        assert "loading" not in r.stderr, r.stderr
        os.chmod(inputs, 0o000)
        r = infer("--model", base / "model.ckpt", "--input", inputs, "--output", base / "out", preexec_fn=as_nobody())
        os.chmod(inputs, 0o755)
        assert r.returncode == 1, r.stderr
        assert f"--input {inputs}: cannot list the folder: permission denied" in r.stderr, r.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)
