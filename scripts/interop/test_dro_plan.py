"""dro-plan end to end on a tiny phantom: the plan it writes runs in dro-train --dry-run as is;
bad input ends with one line and the tools' exit codes (1 failure, 64 usage)."""
import json
import subprocess

from dro_bin import BIN, needs

pytestmark = needs("dro-plan", "dro-train")
PLAN = BIN / "dro-plan"
TRAIN = BIN / "dro-train"


def phantom(folder, cases=6, shape="32,32,24", spacing="1.0,1.0,1.5"):
    r = subprocess.run([str(PLAN), "--make-phantom", str(folder), "--phantom-cases", str(cases),
                        "--phantom-shape", shape, "--phantom-spacing", spacing],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return folder


def plan(dataset, out, *extra):
    return subprocess.run([str(PLAN), "--dataset", str(dataset), "--output", str(out), "--threads", "2",
                           "--timed-steps", "1", *extra], capture_output=True, text=True, timeout=600)


def test_plan_runs_in_dro_train(tmp_path):
    data = phantom(tmp_path / "data")
    cfg = tmp_path / "plan.cfg"
    r = plan(data, cfg, "--budget-hours", "0.05", "--min-epochs", "2")
    assert r.returncode == 0, r.stderr
    assert "← chosen" in r.stdout and "predicted:" in r.stdout
    text = cfg.read_text()
    assert "target_spacing:" in text and "fold: 0" in text and "Expected:" in text
    fp = json.loads((tmp_path / "plan_fingerprint.json").read_text())
    assert len(fp["cases"]) == 6
    assert fp["cases"][0]["spacing"] == [1.0, 1.0, 1.5]
    assert fp["cases"][0]["shapeBeforeCrop"] == [32, 32, 24]
    # The phantom's anatomy is smaller than its grid: cropping keeps a fraction < 1.
    assert 0 < fp["cases"][0]["fractionKept"] <= 1
    d = subprocess.run([str(TRAIN), "--config", str(cfg), "--dry-run"], capture_output=True, text=True, timeout=300)
    assert d.returncode == 0, d.stdout + d.stderr


def rows(stdout):
    """The candidate table: (patch, GB, how, chosen) per row."""
    out = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) > 5 and "×" in parts[0] and parts[0][0].isdigit():
            # patch, features (may contain spaces) ... params GB s/step how
            tail = line.split("]", 1)[1].split()
            out.append((parts[0], float(tail[1]), tail[3], "← chosen" in line))
    return out


def test_memory_limit_skips_larger_candidates(tmp_path):
    data = phantom(tmp_path / "data")
    r = plan(data, tmp_path / "a.cfg", "--budget-hours", "0.05", "--min-epochs", "2")
    assert r.returncode == 0, r.stderr
    table = rows(r.stdout)
    chosen = [t for t in table if t[3]]
    assert len(chosen) == 1 and all(t[2] != "memory" for t in table), r.stdout
    # A limit just below the chosen network's estimate: it and every larger one are skipped,
    # and the plan picks one that fits the limit.
    limit = chosen[0][1] * 0.9
    r = plan(data, tmp_path / "b.cfg", "--budget-hours", "0.05", "--min-epochs", "2", "--memory-gb", f"{limit:.6g}")
    assert r.returncode == 0, r.stderr
    table = rows(r.stdout)
    assert "skipped" in r.stderr, r.stderr
    for patch, gb, how, is_chosen in table:
        assert (how == "memory") == (gb > limit), (patch, gb, how, limit)
    assert [t for t in table if t[3]][0][1] <= limit, r.stdout
    assert "--memory-gb" in (tmp_path / "b.cfg").read_text()
    # Below even the smallest: one line naming the need and the option.
    r = plan(data, tmp_path / "c.cfg", "--memory-gb", "0.000001")
    assert r.returncode == 1
    line = r.stderr.strip().splitlines()[-1]
    assert "smallest candidate needs about" in line and "--memory-gb" in line, r.stderr
    assert not (tmp_path / "c.cfg").exists()


def test_budget_too_small_names_the_minimum(tmp_path):
    data = phantom(tmp_path / "data")
    r = plan(data, tmp_path / "p.cfg", "--budget-hours", "0.0001")
    assert r.returncode == 1
    line = r.stderr.strip().splitlines()[-1]
    assert "too small" in line and "give --budget-hours" in line, r.stderr
    assert not (tmp_path / "p.cfg").exists()


def test_empty_dataset(tmp_path):
    (tmp_path / "d" / "imagesTr").mkdir(parents=True)
    (tmp_path / "d" / "labelsTr").mkdir()
    (tmp_path / "d" / "dataset.json").write_text(json.dumps(
        {"channel_names": {"0": "T2"}, "labels": {"background": 0, "a": 1}, "numTraining": 0, "file_ending": ".nii.gz"}))
    r = plan(tmp_path / "d", tmp_path / "p.cfg")
    assert r.returncode == 1
    assert "no cases" in r.stderr or "empty" in r.stderr or "no training cases" in r.stderr, r.stderr


def test_mixed_channel_counts(tmp_path):
    data = phantom(tmp_path / "data", cases=3)
    # Declare two channels: every case now lacks its second channel file except one.
    meta = json.loads((data / "dataset.json").read_text())
    meta["channel_names"] = {"0": "T2", "1": "T1"}
    (data / "dataset.json").write_text(json.dumps(meta))
    src = data / "imagesTr" / "phantom_000_0000.nii.gz"
    (data / "imagesTr" / "phantom_000_0001.nii.gz").write_bytes(src.read_bytes())
    r = plan(data, tmp_path / "p.cfg")
    assert r.returncode == 1
    assert "phantom_001" in r.stderr, r.stderr


def test_usage_errors(tmp_path):
    r = subprocess.run([str(PLAN), "--dataset", str(tmp_path), "--budget-hours", "0"], capture_output=True, text=True)
    assert r.returncode == 64
    r = subprocess.run([str(PLAN)], capture_output=True, text=True)
    assert r.returncode == 64


def test_anisotropic_plan_trains(tmp_path):
    # 1×1×4 mm, 48×48×12 voxels: z is > 3× coarser and has < 1/3 of the voxels, so the plan keeps
    # thick slices (target z = the 10th percentile, 4 mm) and writes per-axis kernels and strides.
    data = phantom(tmp_path / "data", cases=6, shape="48,48,12", spacing="1,1,4")
    cfg = tmp_path / "aniso.cfg"
    r = plan(data, cfg, "--budget-hours", "0.05", "--min-epochs", "2", "--run-dir", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr
    text = cfg.read_text()
    assert "target_spacing: [1, 1, 4]" in text, text
    assert "kernel_sizes: [[3, 3, 1]" in text and "pool_strides: [[2, 2, 1]" in text, text
    t = subprocess.run([str(TRAIN), "--config", str(cfg), "--set", "training.epochs=1",
                        "--set", "training.iterations_per_epoch=2", "--quiet"],
                       capture_output=True, text=True, timeout=600)
    assert t.returncode == 0, t.stdout + t.stderr
    assert (tmp_path / "run" / "checkpoint_latest.ckpt").exists()
