"""dro-train's command line: exit codes (0 ok, 1 failure, 64 usage), one stderr line per problem,
and --dry-run on datasets written by nibabel (an independent NIfTI writer), whose label volumes
and affines are computed here with nibabel/numpy and compared with dro-train's summary.

Run by scripts/test.sh with DRO_BIN = the release bin folder."""
import json
import os
import pathlib
import subprocess

import nibabel as nib
import numpy as np
import pytest
import yaml

from dro_bin import BIN, needs

ROOT = pathlib.Path(__file__).resolve().parents[2]
DRO_TRAIN = BIN / "dro-train"

pytestmark = needs("dro-train")


def run(*args, cwd=None):
    return subprocess.run([str(DRO_TRAIN), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_help_and_usage_exit_codes():
    assert run("--help").returncode == 0
    r = run()
    assert r.returncode == 64, r
    assert "--config" in r.stderr
    assert run("--config", ROOT / "configs/demo.cfg", "--cases", "3").returncode == 64


@pytest.mark.parametrize("name", ["fetal", "demo", "bench"])
def test_shipped_configs_print(name):
    r = run("--config", ROOT / f"configs/{name}.cfg", "--print-config")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "training:" in r.stdout and "sampler:" in r.stdout


def test_printed_config_reads_as_yaml_1_1():
    """PyYAML (YAML 1.1) must read every number as a number: 3.0e-05, not 3e-05."""
    r = run("--config", ROOT / "configs/bench.cfg", "--print-config")
    cfg = yaml.safe_load(r.stdout)
    assert cfg["training"]["weight_decay"] == pytest.approx(3e-5, rel=0, abs=0)
    assert cfg["model"]["norm_eps"] == 1e-5
    assert cfg["model"]["features"] == [16, 32, 64, 128]
    assert cfg["output"]["dir"] == str(ROOT / "runs/bench")


def test_config_errors_one_line_each(tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("data:\n  dataset: d\ntraining:\n  lrr: 0.1\n  batch_size: 0\n")
    r = run("--config", cfg, "--set", "sampler.beta=-2")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        f"{cfg}:4: unknown key 'training.lrr'; did you mean 'training.lr'?",
        f"{cfg}:5: training.batch_size: value 0 is out of range; allowed: an integer ≥ 1",
        "--set sampler.beta=-2: sampler.beta: value -2 is out of range; allowed: a number ≥ 0",
    ]


def test_demo_data_then_dry_run(tmp_path):
    """--make-demo-data writes the phantom; the shipped demo config dry-runs it cleanly."""
    demo = tmp_path / "demo"
    r = run("--make-demo-data", demo, "--cases", 4, "--rare-fraction", 0.5, "--seed", 1)
    assert r.returncode == 0, r.stderr
    r = run("--config", ROOT / "configs/demo.cfg", "--set", f"data.dataset={demo}",
            "--set", f"data.groups={demo}/groups.csv", "--set", "training.batch_size=1", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "cases: 4 training (4 read without problems)" in r.stdout
    assert "groups: common 2, rare 2" in r.stdout
    assert r.stdout.rstrip().endswith("dry run OK: config valid, 4 cases checked")


# An oblique affine (rotation about z by 30°, 0.8 mm voxels, offset), as scanners write.
ANGLE = np.deg2rad(30)
AFFINE = np.array([[0.8 * np.cos(ANGLE), -0.8 * np.sin(ANGLE), 0, -20.5],
                   [0.8 * np.sin(ANGLE), 0.8 * np.cos(ANGLE), 0, 11.25],
                   [0, 0, 0.8, 3.0],
                   [0, 0, 0, 1]])
SHAPE = (12, 10, 8)


def write_case(root, case, rng, label_affine=AFFINE, label_shape=SHAPE):
    image = rng.normal(100, 20, SHAPE).astype(np.float32)
    label = rng.integers(0, 3, label_shape).astype(np.uint8)
    nib.save(nib.Nifti1Image(image, AFFINE), root / "imagesTr" / f"{case}_0000.nii.gz")
    nib.save(nib.Nifti1Image(label, label_affine), root / "labelsTr" / f"{case}.nii.gz")
    return image, label


def make_dataset(tmp_path, cases):
    root = tmp_path / "ds"
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    (root / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "T2w"}, "labels": {"background": 0, "wm": 1, "gm": 2},
        "numTraining": cases, "file_ending": ".nii.gz"}))
    cfg = tmp_path / "run.cfg"
    cfg.write_text("data:\n  dataset: ds\nmodel:\n  features: [4, 8]\ntraining:\n  patch_size: [8, 8, 8]\n")
    return root, cfg


def test_dry_run_summary_matches_nibabel(tmp_path):
    root, cfg = make_dataset(tmp_path, 3)
    rng = np.random.default_rng(0)
    volumes = {1: [], 2: []}
    images = []
    for case in ["c0", "c1", "c2"]:
        image, label = write_case(root, case, rng)
        images.append(image)
        # Voxel volume from nibabel's affine: |det| of the 3×3 (mm³); 1 mL = 1000 mm³.
        voxel = abs(np.linalg.det(nib.load(root / "labelsTr" / f"{case}.nii.gz").affine[:3, :3]))
        for v in (1, 2):
            volumes[v].append(np.count_nonzero(label == v) * voxel / 1000)
    r = run("--config", cfg, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    out = r.stdout
    assert "cases: 3 training (3 read without problems)" in out
    assert "shape (x×y×z):  min 12×10×8" in out
    assert "spacing (mm):   min 0.8×0.8×0.8" in out
    lo = min(float(i.min()) for i in images)
    hi = max(float(i.max()) for i in images)
    assert f"intensity T2w: {lo:.4g} … {hi:.4g}" in out
    # dro-train's spacing is the affine's column norms; for this rotation |det| = product.
    for v, name in ((1, "wm"), (2, "gm")):
        line = next(l for l in out.splitlines() if l.strip().startswith(f"{v} {name}"))
        expected = f"min {min(volumes[v]):.4g}  median {np.median(volumes[v]):.4g}  max {max(volumes[v]):.4g}"
        assert expected in line, (line, expected)


def test_dry_run_reports_every_problem(tmp_path):
    root, cfg = make_dataset(tmp_path, 4)
    rng = np.random.default_rng(1)
    write_case(root, "a", rng)
    shifted = AFFINE.copy()
    shifted[0, 3] += 0.01  # 0.01 mm > the 1e-4 mm tolerance
    write_case(root, "b", rng, label_affine=shifted)
    write_case(root, "c", rng, label_shape=(12, 10, 7))
    write_case(root, "d", rng)
    os.remove(root / "labelsTr" / "d.nii.gz")
    r = run("--config", cfg, "--dry-run", "--quiet")
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert lines[0] == f"case d: missing label file: {root}/labelsTr/d.nii.gz"
    # float32 offsets: -20.49 vs -20.5 differ by 0.01 ± 1e-6, printed to 3 significant digits.
    assert lines[1] == (f"case b: {root}/labelsTr/b.nii.gz: affine differs from b_0000.nii.gz "
                        "by up to 0.01 mm (tolerance 0.0001 mm)")
    assert lines[2] == f"case c: {root}/labelsTr/c.nii.gz: shape 12×10×7 differs from c_0000.nii.gz 12×10×8"
    assert lines[3] == "dry run: 3 problem(s) in the dataset"
    assert len(lines) == 4
    assert r.stdout == ""


def test_disk_cache_trains_exactly_like_memory(tmp_path):
    """data.cache: disk writes every preprocessed case under <run>/cache/ and reads it back when
    drawn; the losses must be identical to a run with every case in memory (same seed), and the
    memory used is stated before training."""
    root, cfg = make_dataset(tmp_path, 5)
    rng = np.random.default_rng(3)
    for i in range(5):
        write_case(root, f"case_{i:02d}", rng, label_affine=AFFINE)
    cfg.write_text("data:\n  dataset: ds\n  val_fraction: 0.2\nmodel:\n  features: [4, 8]\n"
                   "training:\n  patch_size: [8, 8, 8]\n  epochs: 2\n  iterations_per_epoch: 3\n"
                   "  val_every: 2\n  threads: 1\n  seed: 4\noutput:\n  plots: false\n")
    logs = {}
    for mode in ["memory", "disk"]:
        r = run("--config", cfg, "--set", f"data.cache={mode}", "--set", f"output.dir=run_{mode}", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        out = r.stdout + r.stderr
        assert f"preprocessed cases (cache: {mode}):" in out, out
        cached = sorted((tmp_path / f"run_{mode}" / "cache").glob("*.case"))
        if mode == "disk":
            assert len(cached) == 5, cached          # 4 training + 1 validation case
            assert "5 of 5 cases" in out, out
        else:
            assert cached == []
        lines = (tmp_path / f"run_{mode}" / "train_log.csv").read_text().splitlines()
        header = lines[0].split(",")
        # Everything but wall-clock columns (seconds, *_seconds) is deterministic.
        keep = [i for i, name in enumerate(header) if not name.endswith("seconds")]
        logs[mode] = [[row.split(",")[i] for i in keep] for row in lines]
    assert len(logs["disk"]) == 7 and "loss" in logs["disk"][0]
    assert logs["disk"] == logs["memory"]
