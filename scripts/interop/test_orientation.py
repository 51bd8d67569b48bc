"""Orientation through the whole pipeline: a dataset where half the cases are stored flipped and
with permuted axes (data and affine changed together with nibabel, so every case shows the same
anatomy in millimetres) must train exactly like the consistently stored dataset — dro-train
brings each case to its closest-RAS grid first — and the dry run must report the orientations.

Run by scripts/test.sh with DRO_BIN = the release bin folder. About 20 s."""
import shutil
import subprocess

import nibabel as nib
import numpy as np

from dro_bin import BIN, needs
from tiny_run import log_rows, make_demo_data

pytestmark = needs("dro-train")
TRAIN = BIN / "dro-train"

CONFIG = """
data:
  dataset: {data}
  val_fraction: 0.25
model:
  features: [4, 8]
sampler:
  kind: hardness
  beta: 10
training:
  patch_size: [16, 16, 16]
  batch_size: 2
  epochs: 4
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
"""


def restore(image, transform):
    """Stores `image` (nibabel) with its voxel axes reordered by `transform` ∈ {"lps", "ipl"}:
    same anatomy, other storage."""
    data, affine = np.asanyarray(image.dataobj), image.affine
    n = data.shape
    if transform == "lps":          # i and j reversed
        flip = np.diag([-1.0, -1.0, 1.0, 1.0])
        flip[0, 3], flip[1, 3] = n[0] - 1, n[1] - 1
        return nib.Nifti1Image(np.ascontiguousarray(data[::-1, ::-1, :]), affine @ flip, image.header)
    # new voxel (a, b, c) = old voxel (b, c, K−1−a): axes permuted, one reversed
    perm = np.zeros((4, 4))
    perm[0, 1] = perm[1, 2] = perm[3, 3] = 1
    perm[2, 0], perm[2, 3] = -1, n[2] - 1
    return nib.Nifti1Image(np.ascontiguousarray(np.transpose(data, (2, 0, 1))[::-1]), affine @ perm, image.header)


def test_mixed_orientations_train_exactly_like_consistent_ones(tmp_path):
    consistent = tmp_path / "consistent"
    make_demo_data(consistent, seed=4, test_cases=1)
    mixed = tmp_path / "mixed"
    shutil.copytree(consistent, mixed)
    images = sorted((mixed / "imagesTr").glob("*_0000.nii.gz"))
    for index, path in enumerate(images[::2]):
        case = path.name[:-len("_0000.nii.gz")]
        transform = ["lps", "ipl"][index % 2]
        for file in [path, mixed / "labelsTr" / f"{case}.nii.gz"]:
            stored = restore(nib.load(str(file)), transform)
            original = nib.load(str(file))
            assert np.array_equal(nib.as_closest_canonical(stored).get_fdata(),
                                  nib.as_closest_canonical(original).get_fdata())
            stored.to_filename(str(file))
    logs = {}
    for name, data in [("consistent", consistent), ("mixed", mixed)]:
        cfg = tmp_path / f"{name}.cfg"
        cfg.write_text(CONFIG.format(data=data, run=tmp_path / f"run-{name}"))
        dry = subprocess.run([str(TRAIN), "--config", str(cfg), "--dry-run"], capture_output=True, text=True, timeout=300)
        assert dry.returncode == 0, dry.stderr
        orientations = next(line for line in dry.stdout.splitlines() if line.startswith("orientations:"))
        logs[name + "-orientations"] = orientations
        r = subprocess.run([str(TRAIN), "--config", str(cfg), "--quiet"], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        logs[name] = log_rows(tmp_path / f"run-{name}")
        logs[name + "-val"] = (tmp_path / f"run-{name}" / "val.csv").read_text()
    codes = {nib.aff2axcodes(nib.load(str(p)).affine) for p in images}
    assert len(codes) == 3, codes                       # RAS-like, LPS-like and permuted storage
    assert logs["consistent-orientations"].startswith("orientations: ") and "," not in logs["consistent-orientations"]
    for code in codes:
        assert "".join(code) in logs["mixed-orientations"], (code, logs["mixed-orientations"])
    assert len(logs["mixed"]) == 40
    assert logs["mixed"] == logs["consistent"]
    assert logs["mixed-val"] == logs["consistent-val"]
