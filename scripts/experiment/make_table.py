#!/usr/bin/env python3
"""Robustness table of the experiment (scripts/experiment.sh), from dro-eval's per-case CSVs.

Standard library only: it runs wherever the experiment runs.

Input: RESULTS/cases/<arm>-seed<S>.csv, one per arm and seed, written by
`dro-eval --groups ... --csv` (columns case,label,dice,hd,hd95,...,label_name,group,...).

Per case: Dice = mean of the foreground labels' Dice; HD95 = mean of the labels' HD95 (inf when
any label's is inf, i.e. a label was predicted empty). Per arm × group × seed: mean Dice,
10th-percentile Dice, 95th-percentile HD95, worst (minimum) Dice, and the number of
(case, label) pairs whose label is in the ground truth but predicted empty ("missed labels"). Across seeds: mean ± sample
standard deviation. Differences to the uniform arm are paired by seed (same seed = same network
initialisation and data stream seed): mean ± SD of the per-seed differences, called "within
seed noise" when |mean| <= SD (or when there is a single seed, "no noise estimate").

Writes RESULTS/table.md (Markdown) and RESULTS/table.json, and prints the Markdown.
"""

import argparse
import csv
import json
import math
import os
import statistics
import sys

ARM_TITLES = {
    "uniform": "uniform (ERM, β = 0)",
    "hardness": "hardness weighted (β = 100)",
    "hardness_is": "hardness weighted + importance weights (β = 100)",
}
# Statistic key → (column title, higher is better, digits shown).
STATS = [
    ("mean_dice", "mean Dice", True, 3),
    ("p10_dice", "P10 Dice", True, 3),
    ("p95_hd95", "P95 HD95 (mm)", False, 2),
    ("worst_dice", "worst Dice", True, 3),
    ("missed", "missed labels", False, 1),
]
# Percentiles of the table (robustness is read in the low Dice / high HD95 tail, docs/method.md §6).
DICE_PERCENTILE = 10
HD95_PERCENTILE = 95


def percentile(values, q):
    """Linear interpolation between closest ranks (numpy's default); inf-aware."""
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    frac = pos - lo
    if lo == hi or frac == 0:
        return xs[lo]
    if math.isinf(xs[hi]) or math.isinf(xs[lo]):
        return math.inf
    return xs[lo] + (xs[hi] - xs[lo]) * frac


def parse_float(text):
    t = text.strip().lower()
    if t in ("inf", "+inf", "infinity"):
        return math.inf
    if t in ("-inf",):
        return -math.inf
    if t in ("nan", ""):
        return math.nan
    return float(t)


def read_cases(path, label=None):
    """case → (group, dice, hd95, missed) from one per-case CSV; `label` restricts to one label
    name; missed = labels present in the ground truth but predicted empty."""
    per_case = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if label is not None and row["label_name"] != label:
                continue
            entry = per_case.setdefault(row["case"], {"group": row["group"] or "(none)", "dice": [], "hd95": [], "missed": 0})
            entry["missed"] += row.get("empty") == "pred"
            entry["dice"].append(parse_float(row["dice"]))
            entry["hd95"].append(parse_float(row["hd95"]))
    out = {}
    for case, e in per_case.items():
        dice = [d for d in e["dice"] if not math.isnan(d)]
        hd = [h for h in e["hd95"] if not math.isnan(h)]
        out[case] = (e["group"],
                     sum(dice) / len(dice) if dice else math.nan,
                     (math.inf if any(math.isinf(h) for h in hd) else sum(hd) / len(hd)) if hd else math.nan,
                     e["missed"])
    return out


def group_stats(cases):
    """Statistics of one arm × seed × group; cases = [(case, dice, hd95, missed)]."""
    dice = [(d, c) for c, d, _, _ in cases if not math.isnan(d)]
    hd = [h for _, _, h, _ in cases if not math.isnan(h)]
    worst = min(dice) if dice else (math.nan, "")
    return {
        "n": len(cases),
        "mean_dice": statistics.fmean(d for d, _ in dice) if dice else math.nan,
        "p10_dice": percentile([d for d, _ in dice], DICE_PERCENTILE),
        "p95_hd95": percentile(hd, HD95_PERCENTILE),
        "worst_dice": worst[0],
        "worst_case": worst[1],
        "missed": float(sum(m for *_, m in cases)),
    }


def mean_sd(values):
    if any(math.isinf(v) for v in values):
        return math.inf, math.nan
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else math.nan)


def fmt(value, digits):
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def fmt_pm(values, digits):
    m, s = mean_sd(values)
    if len(values) < 2 or math.isnan(s):
        return fmt(m, digits)
    return f"{fmt(m, digits)} ± {fmt(s, digits)}"


def build(results, arms, seeds, label=None):
    """{arm: {group: {stat: [per-seed values], "worst_cases": [...], "n": n}}}."""
    table = {}
    for arm in arms:
        table[arm] = {}
        for seed in seeds:
            path = os.path.join(results, "cases", f"{arm}-seed{seed}.csv")
            if not os.path.exists(path):
                raise SystemExit(f"make_table.py: {path}: missing (arm {arm}, seed {seed})")
            by_group = {}
            for case, (group, dice, hd, missed) in sorted(read_cases(path, label).items()):
                by_group.setdefault(group, []).append((case, dice, hd, missed))
                by_group.setdefault("all", []).append((case, dice, hd, missed))
            for group, cases in by_group.items():
                s = group_stats(cases)
                g = table[arm].setdefault(group, {k: [] for k, *_ in STATS} | {"worst_cases": [], "n": s["n"]})
                for k, *_ in STATS:
                    g[k].append(s[k])
                g["worst_cases"].append(s["worst_case"])
    return table


def group_order(table):
    groups = sorted({g for arm in table.values() for g in arm})
    return [g for g in groups if g != "all"] + (["all"] if "all" in groups else [])


def markdown(table, arms, seeds, title):
    lines = [f"**{title}** — {len(seeds)} seed(s) ({', '.join(map(str, seeds))}); "
             + ("mean ± SD over seeds" if len(seeds) > 1 else "single seed, no spread") + ".", "",
             "| method | group | cases | " + " | ".join(t for _, t, _, _ in STATS) + " | worst case (per seed) |",
             "|---|---|---:|" + "---:|" * len(STATS) + "---|"]
    for group in group_order(table):
        for arm in arms:
            g = table[arm].get(group)
            if g is None:
                continue
            cells = [fmt_pm(g[k], d) for k, _, _, d in STATS]
            lines.append(f"| {ARM_TITLES.get(arm, arm)} | {group} | {g['n']} | " + " | ".join(cells)
                         + f" | {', '.join(g['worst_cases'])} |")
    return lines


def differences(table, arms, seeds, baseline="uniform"):
    """Per group, stat and non-baseline arm: paired per-seed differences to the baseline."""
    out = []
    if baseline not in arms:
        return out
    for group in group_order(table):
        for arm in arms:
            if arm == baseline or group not in table[arm] or group not in table[baseline]:
                continue
            for k, title, higher_better, digits in STATS:
                a, b = table[arm][group][k], table[baseline][group][k]
                diffs = [x - y if not (math.isinf(x) or math.isinf(y)) else math.nan for x, y in zip(a, b)]
                if any(math.isnan(d) for d in diffs):
                    verdict, m, s = "not comparable (inf or nan)", math.nan, math.nan
                else:
                    m = statistics.fmean(diffs)
                    s = statistics.stdev(diffs) if len(diffs) > 1 else math.nan
                    if math.isnan(s):
                        verdict = "single seed: no noise estimate"
                    elif abs(m) <= s:
                        verdict = "within seed noise"
                    else:
                        verdict = "better" if (m > 0) == higher_better else "worse"
                        # Every seed agreeing in sign is the stronger statement; say when it holds.
                        same_sign = all((d > 0) == (m > 0) and d != 0 for d in diffs)
                        verdict += f" (beyond 1 SD{'; same sign on every seed' if same_sign else ''})"
                out.append({"group": group, "arm": arm, "stat": k, "title": title, "digits": digits,
                            "mean": m, "sd": s, "per_seed": diffs, "verdict": verdict})
    return out


def short_verdict(verdict):
    if verdict.startswith("better"):
        return "better, every seed" if "every seed" in verdict else "better"
    if verdict.startswith("worse"):
        return "worse, every seed" if "every seed" in verdict else "worse"
    return {"within seed noise": "noise", "single seed: no noise estimate": "1 seed"}.get(verdict, "n/a")


def difference_lines(diffs, baseline_title):
    """One row per group × method; each cell: mean difference ± SD over seeds (reading)."""
    lines = ["", f"Difference to {baseline_title}, paired by seed: method − uniform, mean ± SD over seeds "
             "(HD95: lower is better). \"noise\": |mean| ≤ SD; \"better/worse\": beyond 1 SD "
             "(\"every seed\": the sign agrees on every seed).", "",
             "| group | method | " + " | ".join(f"Δ {t}" for _, t, _, _ in STATS) + " |",
             "|---|---|" + "---:|" * len(STATS)]
    rows = {}
    for d in diffs:
        rows.setdefault((d["group"], d["arm"]), {})[d["stat"]] = d
    for (group, arm), cells in rows.items():
        out = []
        for k, _, _, digits in STATS:
            d = cells[k]
            m = "nan" if math.isnan(d["mean"]) else f"{d['mean']:+.{digits}f}"
            sd = "" if math.isnan(d["sd"]) else f" ± {fmt(d['sd'], digits)}"
            out.append(f"{m}{sd} ({short_verdict(d['verdict'])})")
        lines.append(f"| {group} | {ARM_TITLES.get(arm, arm)} | " + " | ".join(out) + " |")
    return lines


def draw_shares(results, arms, seeds):
    """{arm: {group: [per-seed share of training draws]}} from each run's sampler.csv (cumulative
    draws per case at the last logged epoch); {} when a run has no sampler log."""
    out = {}
    for arm in arms:
        for seed in seeds:
            path = os.path.join(results, "runs", f"{arm}-seed{seed}", "sampler.csv")
            if not os.path.exists(path):
                return {}
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            if not rows:
                return {}
            last = max(int(r["epoch"]) for r in rows)
            draws = {}
            for r in rows:
                if int(r["epoch"]) == last:
                    group = r["group"] or "(none)"
                    draws[group] = draws.get(group, 0) + int(r["draws"])
            total = sum(draws.values()) or 1
            for group, n in draws.items():
                out.setdefault(arm, {}).setdefault(group, []).append(n / total)
    return out


def share_lines(shares, arms, seeds):
    groups = sorted({g for a in shares.values() for g in a})
    lines = ["", "Share of training draws per group (from each run's sampler.csv; "
             + ("mean ± SD over seeds" if len(seeds) > 1 else "one seed") + "):", "",
             "| method | " + " | ".join(groups) + " |", "|---|" + "---:|" * len(groups)]
    for arm in arms:
        cells = [fmt_pm([100 * v for v in shares[arm].get(g, [0.0] * len(seeds))], 1) + " %" for g in groups]
        lines.append(f"| {ARM_TITLES.get(arm, arm)} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", required=True, help="experiment results folder (holds cases/)")
    p.add_argument("--arms", default="uniform,hardness,hardness_is")
    p.add_argument("--seeds", required=True, help="comma-separated training seeds")
    p.add_argument("--focus-label", default="ventricles",
                   help="also tabulate this label alone (skipped when the CSVs do not have it)")
    p.add_argument("--header", default="", help="text put above the tables (e.g. the command)")
    a = p.parse_args(argv)
    arms = [x for x in a.arms.split(",") if x]
    seeds = [int(x) for x in a.seeds.split(",") if x]

    table = build(a.results, arms, seeds)
    diffs = differences(table, arms, seeds)
    lines = ([a.header, ""] if a.header else [])
    lines += markdown(table, arms, seeds, "All foreground labels (per case: mean over labels)")
    lines += difference_lines(diffs, ARM_TITLES["uniform"])
    summary = {"arms": arms, "seeds": seeds, "all_labels": table, "differences": diffs}
    shares = draw_shares(a.results, arms, seeds)
    if shares:
        lines += share_lines(shares, arms, seeds)
        summary["draw_shares"] = shares

    first = os.path.join(a.results, "cases", f"{arms[0]}-seed{seeds[0]}.csv")
    with open(first, newline="") as f:
        names = {row["label_name"] for row in csv.DictReader(f)}
    if a.focus_label and a.focus_label in names:
        focus = build(a.results, arms, seeds, a.focus_label)
        focus_diffs = differences(focus, arms, seeds)
        lines += ["", ""] + markdown(focus, arms, seeds, f"Label '{a.focus_label}' alone")
        lines += difference_lines(focus_diffs, ARM_TITLES["uniform"])
        summary["focus_label"] = a.focus_label
        summary["focus"] = focus
        summary["focus_differences"] = focus_diffs

    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.results, "table.md"), "w") as f:
        f.write(text)

    def clean(x):  # JSON has no inf/nan: strings, as dro-eval writes them
        if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
            return "inf" if math.isinf(x) else "nan"
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x
    with open(os.path.join(a.results, "table.json"), "w") as f:
        json.dump(clean(summary), f, indent=2, ensure_ascii=False)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
