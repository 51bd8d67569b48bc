"""An anisotropic U-Net on the real command line: the phantom written with thick slices on z
(`--spacing 1.2,1.2,4.8`: 64 × 64 × 16 voxels), a network with 3×3×1 kernels and 2×2×1 pooling
at the fine level (`model.kernel_sizes`, `model.pool_strides`, x y z order), trained a few
iterations; a run stopped by SIGTERM and resumed repeats the uninterrupted run's train_log; a
resume with other strides is refused naming the key; dro-infer's output has the input's
geometry (nibabel); dro-inspect shows the checkpoint's kernels and strides. A few seconds."""
import json
import signal
import subprocess
import time

import nibabel as nib
import numpy as np
import pytest

from dro_bin import BIN, needs
from tiny_run import log_rows

TRAIN, INFER, INSPECT = BIN / "dro-train", BIN / "dro-infer", BIN / "dro-inspect"
pytestmark = needs("dro-train", "dro-infer", "dro-inspect")

CONFIG = """
data:
  dataset: {data}
  val_fraction: 0.25
model:
  features: [4, 8, 16]
  kernel_sizes: [[3, 3, 1], [3, 3, 3], [3, 3, 3]]
  pool_strides: {strides}
sampler:
  kind: uniform
training:
  patch_size: [32, 32, 8]
  batch_size: 2
  epochs: 3
  iterations_per_epoch: 4
  optimizer: adamw
  lr: 0.002
  threads: 1
  val_every: 3
  seed: 4
  augmentation:
    enabled: false
output:
  dir: {run}
  plots: false
  checkpoint_every: 1
"""
STRIDES = "[[2, 2, 1], [2, 2, 2]]"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("aniso") / "data"
    r = subprocess.run([str(TRAIN), "--make-demo-data", str(folder), "--cases", "4", "--test-cases", "1",
                        "--seed", "3", "--spacing", "1.2,1.2,4.8"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return folder


def config(tmp_path, data, name, strides=STRIDES):
    run = tmp_path / name
    path = tmp_path / f"{name}.cfg"
    path.write_text(CONFIG.format(data=data, run=run, strides=strides))
    return path, run


def train(cfg, *extra):
    return subprocess.run([str(TRAIN), "--config", str(cfg), "--quiet", *extra], capture_output=True, text=True,
                          timeout=600)


def test_demo_spacing_writes_thick_slices(data):
    image = nib.load(str(data / "imagesTr" / "phantom_000_0000.nii.gz"))
    label = nib.load(str(data / "labelsTr" / "phantom_000.nii.gz"))
    assert image.shape == (64, 64, 16) and label.shape == (64, 64, 16)
    assert np.allclose(image.header.get_zooms()[:3], (1.2, 1.2, 4.8))
    # The brain spans the slices (the 76.8 mm field of view is kept), not only a few of them.
    slices_with_brain = (np.asarray(label.dataobj) > 0).any(axis=(0, 1)).sum()
    assert slices_with_brain >= 10, slices_with_brain


def test_train_resume_infer(data, tmp_path):
    cfg, run = config(tmp_path, data, "reference")
    r = train(cfg)
    assert r.returncode == 0, r.stderr
    reference = log_rows(run)
    assert len(reference) == 12

    # Stopped after its first checkpoint, resumed: the same rows as the uninterrupted run.
    cfg2, run2 = config(tmp_path, data, "stopped")
    p = subprocess.Popen([str(TRAIN), "--config", str(cfg2), "--quiet"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run2 / "checkpoint_latest.ckpt").exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=300)
    if p.returncode == 143:
        r = train(cfg2, "--resume")
        assert r.returncode == 0, r.stderr
    else:
        assert p.returncode == 0, err   # finished before the signal arrived
    assert log_rows(run2) == reference

    # Other strides: refused, naming the key.
    cfg3, _ = config(tmp_path, data, "stopped", strides="[[2, 2, 2], [2, 2, 1]]")
    r = train(cfg3, "--resume")
    assert r.returncode == 1 and "pool_strides" in r.stderr, r.stderr

    r = subprocess.run([str(INSPECT), "--json", str(run / "checkpoint_latest.ckpt")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["kernel_sizes"] == [[3, 3, 1], [3, 3, 3], [3, 3, 3]]
    assert shown["pool_strides"] == [[2, 2, 1], [2, 2, 2]] and shown["patch_size"] == [32, 32, 8]

    out = tmp_path / "pred"
    r = subprocess.run([str(INFER), "--model", str(run / "checkpoint_latest.ckpt"), "--input",
                        str(data / "imagesTs"), "--output", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    source = nib.load(str(data / "imagesTs" / "phantom_ts_000_0000.nii.gz"))
    pred = nib.load(str(out / "phantom_ts_000.nii.gz"))
    assert pred.shape == source.shape
    assert np.allclose(pred.affine, source.affine, atol=1e-5)
    assert np.allclose(pred.header.get_zooms()[:3], source.header.get_zooms()[:3])
    assert set(np.unique(np.asarray(pred.dataobj))) <= set(range(6))
