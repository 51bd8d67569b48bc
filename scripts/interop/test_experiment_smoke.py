"""scripts/experiment.sh end to end at tiny sizes (tiny phantom set and network, a cap of 3 epochs
of 2 iterations, patience 1, every arm, one seed), its resumability, and its report against an
independent recomputation.

The report's numbers are recomputed here from the runs' own files (dro-eval's per-case CSVs,
val.csv, train_log.csv, sampler.csv) with numpy and scipy, so the check fails when report.py
aggregates, selects or tests wrongly. Run by scripts/test.sh with DRO_BIN = the release bin
folder; the script is given --bin so it does not rebuild."""
import csv
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import wilcoxon

from dro_bin import BIN, needs

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "experiment.sh"
TOOLS = ["dro-train", "dro-infer", "dro-eval"]
ARMS = ["uniform", "group_balanced", "hardness_b1", "hardness_b10", "hardness_b100", "hardness_is", "hardness_patch",
        "hardness_spread"]
SEEDS = [3]
# Tiny: 8 training phantoms (2 rare), half of each group validated (3 common + 1 rare), so 4
# training samples; 2 test phantoms (1 rare, 1 common); a 2-level 4/8-channel network on 32³
# patches; at most 3 epochs of 2 iterations, stop after 1 validation without improvement.
TINY = ["--arms", ",".join(ARMS), "--train-cases", "8", "--test-cases", "2", "--rare-fraction", "0.25", "--val-fraction", "0.5",
        "--max-epochs", "3", "--iterations-per-epoch", "2", "--patience", "1", "--parallel", "2",
        "--threads", "1", "--infer-overlap", "0",
        "--set", "model.features=[4, 8]", "--set", "training.augmentation.enabled=false"]
# A guard against a hung run, not a speed assertion (speed belongs to dro-bench).
TIMEOUT_S = 600

needs_bin = needs(*TOOLS)


def run_script(*args):
    return subprocess.run(["bash", str(SCRIPT), "--bin", str(BIN), *map(str, args)],
                          capture_output=True, text=True, timeout=TIMEOUT_S)


def experiment_args(out):
    return ["--out", out, "--seed", SEEDS[0], "--seeds", len(SEEDS), *TINY]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp") / "results"
    r = run_script(*experiment_args(out))
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def per_case(path, label=None):
    """case → (group, mean foreground Dice, mean HD95) computed with numpy."""
    out = {}
    for row in rows(path):
        if label is not None and row["label_name"] != label:
            continue
        out.setdefault(row["case"], (row["group"], [], []))
        out[row["case"]][1].append(float(row["dice"]))
        out[row["case"]][2].append(float(row["hd95"]))
    return {c: (g, float(np.nanmean(d)), float(np.mean(h))) for c, (g, d, h) in out.items()}


def value(x):
    return {"inf": math.inf, "nan": math.nan}.get(x, x) if isinstance(x, str) else x


def close(a, b, tol=1e-9):
    a, b = value(a), value(b)
    if isinstance(a, float) and isinstance(b, float) and (math.isnan(a) or math.isnan(b)):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tol * max(1.0, abs(b))


@needs_bin
def test_every_arm_ran_with_its_sampler(experiment):
    out, r = experiment
    groups = {row["case"]: row["group"] for row in rows(out / "groups_train.csv")}
    best_beta = (out / "beta_choice.md").read_text().split("**(chosen)**")[0].rsplit("|", 1)[1].strip()
    assert best_beta in ["1", "10", "100"]
    for arm in ARMS:
        for seed in SEEDS:
            name = f"{arm}-seed{seed}"
            cases = per_case(out / "cases" / f"{name}.csv")
            assert sorted(cases) == ["phantom_ts_000", "phantom_ts_001"]
            assert (out / "plots" / f"{name}-sampling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert (out / "runs" / name / "checkpoint_best.ckpt").exists()
            resolved = (out / "runs" / name / "config.resolved.yaml").read_text()
            sampler = resolved.split("sampler:")[1].split("\n\n")[0]
            kind = {"uniform": "uniform", "group_balanced": "group_balanced"}.get(arm, "hardness")
            assert f"kind: {kind}" in sampler, sampler
            assert ("importance_sampling: true" in sampler) == (arm == "hardness_is"), sampler
            assert ("unit: patch" in sampler) == (arm == "hardness_patch"), sampler
            if arm.startswith("hardness_b"):
                assert f"beta: {arm[len('hardness_b'):]}\n" in sampler, sampler
            if arm in ("hardness_is", "hardness_patch"):
                assert f"beta: {best_beta}\n" in sampler, sampler
            if arm == "hardness_spread":
                # β = 3 / (P90 − P10) of the uniform run's last per-case losses (4 significant digits).
                uniform = rows(out / "runs" / f"uniform-seed{seed}" / "sampler.csv")
                last = max(int(r["epoch"]) for r in uniform)
                losses = [float(r["stale_loss"]) for r in uniform if int(r["epoch"]) == last]
                losses = [x for x in losses if not math.isnan(x)]
                expected = 3 / (np.percentile(losses, 90) - np.percentile(losses, 10))
                beta = float(sampler.split("beta: ")[1].split("\n")[0])
                assert abs(beta - expected) <= 5e-4 * expected, (beta, expected)
            training = resolved.split("training:")[1]
            assert f"seed: {seed}" in training and "patience: 1" in training and "monitor: loss" in training
            # The validation split is per group: both groups are validated, and no validation case trains.
            val_cases = {row["case"] for row in rows(out / "runs" / name / "val.csv")}
            assert {groups[c] for c in val_cases} == {"common", "rare"}
            drawn = {row["case"].split("@")[0] for row in rows(out / "runs" / name / "sampler.csv")}
            assert not (val_cases & drawn)
    # The group-balanced sampler's law: each of the 2 groups has probability 1/2.
    run = out / "runs" / f"group_balanced-seed{SEEDS[0]}"
    val_cases = {row["case"] for row in rows(run / "val.csv")}
    for row in rows(run / "sampler.csv"):
        n_group = sum(1 for c, g in groups.items() if g == row["group"]) - sum(
            1 for c in val_cases if groups[c] == row["group"])
        assert abs(float(row["probability"]) - 1 / (2 * n_group)) < 1e-12


@needs_bin
def test_report_matches_an_independent_recomputation(experiment):
    out, _ = experiment
    s = json.loads((out / "table.json").read_text())
    assert s["arms"] == ARMS and s["seeds"] == SEEDS and s["rare_group"] == "rare"
    groups = {row["case"]: row["group"] for row in rows(out / "groups_train.csv")}
    for arm in ARMS:
        for i, seed in enumerate(SEEDS):
            run = out / "runs" / f"{arm}-seed{seed}"
            # Scored epoch: lowest mean validation loss, earliest on ties.
            val = rows(run / "val.csv")
            epochs = sorted({int(r["epoch"]) for r in val})
            mean_loss = [np.mean([float(r["loss"]) for r in {r["case"]: r for r in val if int(r["epoch"]) == e}.values()])
                         for e in epochs]
            scored = epochs[int(np.argmin(mean_loss))]
            train = rows(run / "train_log.csv")
            got = s["runs"][arm][i]
            assert got["scored_epoch"] == scored
            assert got["stop_iteration"] == int(train[-1]["iteration"])
            assert got["scored_iteration"] == max(int(r["iteration"]) for r in train if int(r["epoch"]) == scored)
            # Stopping: the cap (3 epochs × 2) or patience 1 (one validation without a lower loss).
            stopped_epoch = int(train[-1]["epoch"])
            assert stopped_epoch == 3 or (stopped_epoch == scored + 1 and len(train) == 2 * stopped_epoch)
            # Worst-group validation Dice at the scored epoch.
            per_group = {}
            for case in {r["case"] for r in val}:
                d = [float(r["dice"]) for r in val if r["case"] == case and int(r["epoch"]) == scored and int(r["label"]) > 0]
                per_group.setdefault(groups[case], []).append(np.nanmean(d))
            assert close(got["val_worst_group_dice"], min(np.mean(v) for v in per_group.values()))
            # ESS and max p per logged epoch.
            sampler = rows(run / "sampler.csv")
            ps = {}
            for r in sampler:
                ps.setdefault(int(r["epoch"]), []).append(float(r["probability"]))
            ess = [1 / np.sum(np.square(p)) for p in ps.values()]
            assert close(got["ess_mean"], np.mean(ess)) and close(got["ess_min"], np.min(ess))
            assert close(got["maxp_max"], max(max(p) for p in ps.values()))
            last = max(ps)
            draws = {}
            for r in sampler:
                if int(r["epoch"]) == last:
                    draws[r["group"]] = draws.get(r["group"], 0) + int(r["draws"])
            assert close(got["draw_share"]["rare"], draws.get("rare", 0) / sum(draws.values()))
            # Test statistics per group.
            cases = per_case(out / "cases" / f"{arm}-seed{seed}.csv")
            for group in ["common", "rare", "all"]:
                sel = [v for v in cases.values() if group == "all" or v[0] == group]
                dice = np.array([d for _, d, _ in sel])
                hd = np.array([h for _, _, h in sel])
                t = s["test"][arm][group]
                assert close(t["dice_mean"][i], dice.mean()) and close(t["dice_median"][i], np.median(dice))
                assert close(t["dice_p10"][i], np.percentile(dice, 10)) and close(t["dice_worst"][i], dice.min())
                if np.all(np.isfinite(hd)):
                    assert close(t["hd95_mean"][i], hd.mean()) and close(t["hd95_p90"][i], np.percentile(hd, 90))
                    assert close(t["hd95_worst"][i], hd.max())
                else:
                    assert value(t["hd95_mean"][i]) == math.inf
            # Rare group per label.
            for label in {r["label_name"] for r in rows(out / "cases" / f"{arm}-seed{seed}.csv")}:
                sel = [d for g, d, _ in per_case(out / "cases" / f"{arm}-seed{seed}.csv", label).values() if g == "rare"]
                assert close(s["rare_per_label"][label][arm]["dice_mean"][i], np.nanmean(sel))
    # Paired comparison with ERM and the Wilcoxon p-value (one seed: per-case differences).
    for c in s["paired"]:
        base = per_case(out / "cases" / f"uniform-seed{SEEDS[0]}.csv")
        mine = per_case(out / "cases" / f"{c['arm']}-seed{SEEDS[0]}.csv")
        diffs = [mine[k][1] - base[k][1] for k in sorted(base) if c["group"] == "all" or base[k][0] == c["group"]]
        assert np.allclose(c["dice"]["per_case"], diffs, atol=1e-12)
        expected = wilcoxon(diffs, zero_method="wilcox").pvalue if any(d != 0 for d in diffs) else math.nan
        assert close(c["dice"]["p"], float(expected))
    table = (out / "table.md").read_text()
    for title in ["uniform (ERM)", "group-balanced (oracle groups)", "hardness β = 100", "hardness + importance weights (β ="]:
        assert title in table, title
    assert "Wilcoxon" in table and "ESS" in table and "Stopping" in table


@needs_bin
def test_rerun_skips_finished_runs_and_redoes_unfinished_ones(experiment):
    out, _ = experiment
    table = (out / "table.md").read_text()
    # Same command again: nothing is trained.
    r = run_script(*experiment_args(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr.count("finished earlier, skipped") == len(ARMS) * len(SEEDS), r.stderr
    assert (out / "table.md").read_text() == table
    # An unfinished run (no DONE marker, no scores) is redone from its checkpoint.
    name = f"hardness_b10-seed{SEEDS[0]}"
    (out / "runs" / name / "DONE").unlink()
    (out / "cases" / f"{name}.csv").unlink()
    r = run_script(*experiment_args(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"{name}: resuming" in r.stderr and r.stderr.count("finished earlier, skipped") == len(ARMS) * len(SEEDS) - 1
    assert (out / "cases" / f"{name}.csv").exists() and (out / "table.md").read_text() == table
    # Other settings with the same --out are refused.
    r = run_script(*experiment_args(out), "--patience", "2")
    assert r.returncode == 1 and "other settings" in r.stderr


@needs_bin
def test_usage_errors_exit_64(tmp_path):
    assert run_script("--seeds", "0", "--out", tmp_path / "a").returncode == 64
    assert run_script("--no-such-option").returncode == 64
    assert run_script("--arms", "uniform,nonsense", "--out", tmp_path / "b").returncode == 64
    assert run_script("--val-fraction", "0", "--out", tmp_path / "d").returncode == 64
    r = run_script("--arms", "uniform,hardness_is", "--out", tmp_path / "c")
    assert r.returncode == 64 and "best β" in r.stderr
    r = run_script("--dataset", tmp_path / "missing")
    assert r.returncode == 64 and "missing" in r.stderr
