"""scripts/experiment.sh end to end on a tiny budget (tiny phantom set, tiny network, a few
iterations, all three arms, one seed), and its table builder against numpy.

The table's numbers are recomputed here from dro-eval's per-case CSVs with numpy (an independent
implementation of mean / linear-interpolation percentiles), so the check can fail when
make_table.py aggregates wrongly. Run by scripts/test.sh with DRO_BIN = the release bin folder;
the script is given --bin so it does not rebuild."""
import csv
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from dro_bin import BIN, needs

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "experiment.sh"
TOOLS = ["dro-train", "dro-infer", "dro-eval"]
ARMS = ["uniform", "hardness", "hardness_is"]
SEEDS = [3]
# Tiny: 4 training phantoms (1 rare at 0.25), 2 test phantoms (1 rare at the default 0.5,
# 1 common), a 2-level 4/8-channel network on 32³ patches, 4 iterations per arm and seed.
TINY = ["--iterations", "4", "--train-cases", "4", "--test-cases", "2", "--rare-fraction", "0.25",
        "--set", "model.features=[4, 8]", "--set", "training.patch_size=[32, 32, 32]",
        "--set", "training.augmentation.enabled=false"]
# A guard against a hung run, not a speed assertion (speed belongs to dro-bench): the run takes
# well under 90 s on 2 idle cores.
TIMEOUT_S = 300

needs_bin = needs(*TOOLS)


def run_script(*args):
    return subprocess.run(["bash", str(SCRIPT), "--bin", str(BIN), *map(str, args)],
                          capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp") / "results"
    r = run_script("--out", out, "--seed", SEEDS[0], "--seeds", len(SEEDS), *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r


def per_case(path):
    """case → (group, mean foreground Dice, mean HD95) computed with numpy."""
    rows = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["case"], (row["group"], [], []))
            rows[row["case"]][1].append(float(row["dice"]))
            rows[row["case"]][2].append(float(row["hd95"]))
    return {c: (g, float(np.nanmean(d)), float(np.mean(h))) for c, (g, d, h) in rows.items()}


@needs_bin
def test_table_has_every_arm_and_group(experiment):
    out, _ = experiment
    table = (out / "table.md").read_text()
    for title in ["uniform (ERM, β = 0)", "hardness weighted (β = 100)",
                  "hardness weighted + importance weights (β = 100)"]:
        for group in ["common", "rare"]:
            assert any(line.startswith(f"| {title} | {group} |") for line in table.splitlines()), (title, group, table)
    assert "Difference to uniform" in table
    assert "Command: `scripts/experiment.sh" in table


@needs_bin
def test_outputs_per_arm_and_seed(experiment):
    out, _ = experiment
    for arm in ARMS:
        for seed in SEEDS:
            name = f"{arm}-seed{seed}"
            cases = per_case(out / "cases" / f"{name}.csv")
            assert sorted(cases) == ["phantom_ts_000", "phantom_ts_001"]
            assert sorted(g for g, _, _ in cases.values()) == ["common", "rare"]
            assert (out / "plots" / f"{name}-sampling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert len(list((out / "pred" / name).glob("*.nii.gz"))) == 2
            # The arm's sampler is what the resolved config of its run says.
            resolved = (out / "runs" / name / "config.resolved.yaml").read_text()
            sampler = resolved.split("sampler:")[1].split("\n\n")[0]
            assert ("kind: uniform" in sampler) == (arm == "uniform"), sampler
            assert ("importance_sampling: true" in sampler) == (arm == "hardness_is"), sampler
            assert f"seed: {seed}" in resolved.split("training:")[1]


@needs_bin
def test_table_numbers_match_numpy(experiment):
    out, _ = experiment
    summary = json.loads((out / "table.json").read_text())
    assert summary["seeds"] == SEEDS and summary["arms"] == ARMS
    for arm in ARMS:
        for group in ["common", "rare", "all"]:
            for i, seed in enumerate(SEEDS):
                cases = [v for v in per_case(out / "cases" / f"{arm}-seed{seed}.csv").values()
                         if group == "all" or v[0] == group]
                dice = np.array([d for _, d, _ in cases])
                hd = np.array([h for _, _, h in cases])
                got = summary["all_labels"][arm][group]
                # Same float64 operations in a different order: 1e-12 absolute is ample.
                assert abs(got["mean_dice"][i] - dice.mean()) < 1e-12
                assert abs(got["p10_dice"][i] - np.percentile(dice, 10)) < 1e-12
                assert abs(got["worst_dice"][i] - dice.min()) < 1e-12
                with open(out / "cases" / f"{arm}-seed{seed}.csv", newline="") as f:
                    missed = sum(1 for r in csv.DictReader(f)
                                 if r["empty"] == "pred" and (group == "all" or r["group"] == group))
                assert got["missed"][i] == missed
                expected = np.percentile(hd, 95) if np.all(np.isfinite(hd)) else math.inf
                value = got["p95_hd95"][i]
                value = math.inf if value == "inf" else value
                assert value == expected or abs(value - expected) < 1e-9 * max(1.0, abs(expected))


@needs_bin
def test_usage_errors_exit_64(tmp_path):
    assert run_script("--seeds", "0", "--out", tmp_path / "a").returncode == 64
    assert run_script("--no-such-option").returncode == 64
    r = run_script("--dataset", tmp_path / "missing")
    assert r.returncode == 64 and "missing" in r.stderr


def test_table_builder_reading_rules(tmp_path):
    """make_table.py alone on hand-made CSVs: inf HD95 propagates, paired differences and the
    'within seed noise' rule (|mean diff| <= SD of the per-seed differences)."""
    (tmp_path / "cases").mkdir()
    header = "case,label,dice,hd,hd95,assd,n_gt,n_pred,empty,label_name,group\n"
    # Per seed, uniform vs hardness on the rare case: +0.10, +0.12, +0.08 (clear gain);
    # common case: +0.01, -0.02, +0.01 (noise).
    values = {"uniform": [(0.80, 0.50), (0.81, 0.52), (0.79, 0.48)],
              "hardness": [(0.81, 0.60), (0.79, 0.64), (0.80, 0.56)]}
    for arm, per_seed in values.items():
        for seed, (common, rare) in enumerate(per_seed):
            hd_rare = "inf" if (arm, seed) == ("uniform", 0) else "3.0"
            (tmp_path / "cases" / f"{arm}-seed{seed}.csv").write_text(
                header + f"c1,1,{common},1,2.0,1,10,10,none,a,common\n"
                + f"r1,1,{rare},1,{hd_rare},1,10,10,none,a,rare\n")
    r = subprocess.run([sys.executable, str(ROOT / "scripts/experiment/make_table.py"), "--results", str(tmp_path),
                        "--arms", "uniform,hardness", "--seeds", "0,1,2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "table.json").read_text())
    assert s["all_labels"]["uniform"]["rare"]["p95_hd95"] == ["inf", 3.0, 3.0]
    verdict = {(d["group"], d["stat"]): d["verdict"] for d in s["differences"]}
    assert verdict[("rare", "mean_dice")].startswith("better")
    assert verdict[("common", "mean_dice")] == "within seed noise"
    assert verdict[("rare", "p95_hd95")] == "not comparable (inf or nan)"
    diff = next(d for d in s["differences"] if (d["group"], d["stat"]) == ("rare", "mean_dice"))
    assert np.allclose(diff["per_seed"], [0.10, 0.12, 0.08]) and abs(diff["mean"] - 0.10) < 1e-12
