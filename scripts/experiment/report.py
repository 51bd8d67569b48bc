#!/usr/bin/env python3
"""Report of the robustness experiment (scripts/experiment.sh): the β choice and the tables.

  report.py choose-beta --results DIR --arms hardness_b1,... --seeds 0,1,2 --groups groups_train.csv
      prints the chosen β; writes DIR/beta_choice.md.
  report.py calibrate-beta --results DIR --seeds 0,1,2 --groups groups_train.csv
      prints β = SPREAD_PRODUCT / spread of the ERM runs' last per-case training losses (the
      `hardness_spread` arm, ours); writes DIR/beta_spread.md.
  report.py table --results DIR --arms ... --seeds ... --groups groups_train.csv [--header TEXT]
      writes DIR/table.md and DIR/table.json; prints the Markdown.

Inputs per run (RESULTS/runs/<arm>-seed<S>/): val.csv (epoch, case, label, name, dice, loss),
train_log.csv, sampler.csv; per run RESULTS/cases/<arm>-seed<S>.csv (dro-eval --csv: case,
label, dice, hd95, ..., label_name, group).

Definitions (docs/experiment.md):
- Scored checkpoint: the epoch with the lowest mean validation loss (mean over validation cases
  of the case's loss; the earliest on ties) — the trainer's checkpoint_best.ckpt with
  training.monitor: loss.
- β rule: for each hardness_b<β> arm and seed, the validation Dice at the scored epoch, per case
  the mean over foreground labels (nan labels left out), per group the mean over its validation
  cases, worst group = the lowest; averaged over seeds; the β with the highest value wins (the
  smaller β on a tie).
- Test statistics per case: Dice = mean over foreground labels; HD95 = mean over labels (inf when
  a label's is inf, i.e. predicted or reference empty). Per arm × group × seed: mean, median, 10th
  percentile and minimum of Dice; mean, median, 90th percentile and maximum of HD95 (the bad tail
  of a distance is its high end). Percentiles: linear interpolation (numpy's default). Every number:
  mean ± sample SD over seeds.
- Paired comparison with ERM (the uniform arm): per test case, the case's value averaged over
  seeds minus ERM's averaged over seeds; scipy.stats.wilcoxon on these per-case differences,
  two-sided, zero_method="wilcox" (zero differences dropped; p = n/a when all are zero). The Δ
  column is the mean over seeds of the per-seed mean per-case difference ± SD over seeds.
- Sampling: share of draws that went to each group (sampler.csv draw counts at the last logged
  epoch, i.e. over the whole run); per logged epoch the effective sample size 1/Σp² and max p of
  the sampling distribution (p of the next draw), reported as mean over epochs and the extreme.
"""

import argparse
import csv
import json
import math
import os
import statistics
import sys

ARM_TITLES = {
    "uniform": "uniform (ERM)",
    "group_balanced": "group-balanced (oracle groups)",
    "hardness_is": "hardness + importance weights",
    "hardness_patch": "hardness, patch unit",
    "hardness_spread": "hardness, β·spread = 3 (ours, not the paper's)",
}
# hardness_spread: β·(P90 − P10 of the ERM runs' per-case losses) = this, so the probability
# ratio between a 90th- and a 10th-percentile case is e³ ≈ 20 whatever the loss scale.
SPREAD_PRODUCT = 3.0


def arm_title(arm, best_beta=None, spread_beta=None):
    if arm.startswith("hardness_b"):
        return f"hardness β = {arm[len('hardness_b'):]}"
    title = ARM_TITLES.get(arm, arm)
    if arm in ("hardness_is", "hardness_patch") and best_beta is not None:
        title += f" (β = {best_beta})"
    if arm == "hardness_spread" and spread_beta is not None:
        title += f", β = {spread_beta}"
    return title


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
    t = (text or "").strip().lower()
    if t in ("inf", "+inf", "infinity"):
        return math.inf
    if t == "-inf":
        return -math.inf
    if t in ("nan", ""):
        return math.nan
    return float(t)


def fmean(values):
    """Mean; inf when any value is inf; nan when empty."""
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return math.nan
    if any(math.isinf(v) for v in vals):
        return math.inf
    return statistics.fmean(vals)


def mean_sd(values):
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return math.nan, math.nan
    if any(math.isinf(v) for v in vals):
        return math.inf, math.nan
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else math.nan)


def fmt(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def fmt_pm(values, digits):
    m, s = mean_sd(values)
    if math.isnan(s):
        return fmt(m, digits)
    return f"{fmt(m, digits)} ± {fmt(s, digits)}"


def read_rows(path):
    if not os.path.exists(path):
        raise SystemExit(f"report.py: {path}: missing")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_groups(path):
    return {r["case"]: r["group"] for r in read_rows(path)}


# ---- per run: validation, stopping, sampling ---------------------------------------------------

def validation(run_dir):
    """{epoch: {case: (loss, mean foreground Dice)}} from val.csv."""
    out = {}
    for r in read_rows(os.path.join(run_dir, "val.csv")):
        epoch, case = int(r["epoch"]), r["case"]
        entry = out.setdefault(epoch, {}).setdefault(case, [parse_float(r.get("loss")), []])
        if int(r["label"]) > 0:
            entry[1].append(parse_float(r["dice"]))
    return {e: {c: (l, fmean(d)) for c, (l, d) in cases.items()} for e, cases in out.items()}


def scored_epoch(val):
    """The epoch with the lowest mean validation loss (earliest on ties); None without losses."""
    best, best_loss = None, math.inf
    for epoch in sorted(val):
        losses = [l for l, _ in val[epoch].values() if not math.isnan(l)]
        if not losses:
            continue
        m = sum(losses) / len(losses)   # left to right in case order, as the trainer sums
        if m < best_loss:
            best, best_loss = epoch, m
    return best


def run_summary(results, arm, seed, groups):
    run_dir = os.path.join(results, "runs", f"{arm}-seed{seed}")
    val = validation(run_dir)
    epoch = scored_epoch(val)
    train = read_rows(os.path.join(run_dir, "train_log.csv"))
    stop_iteration = int(train[-1]["iteration"]) if train else 0
    scored_iteration = max((int(r["iteration"]) for r in train if int(r["epoch"]) == epoch), default=0)
    per_group = {}
    if epoch is not None:
        for case, (_, dice) in val[epoch].items():
            per_group.setdefault(groups.get(case, "(none)"), []).append(dice)
    val_group_dice = {g: fmean(v) for g, v in per_group.items()}
    worst_group = min(val_group_dice.values()) if val_group_dice else math.nan
    # Sampling distribution per logged epoch.
    by_epoch, last_draws = {}, {}
    sampler_rows = read_rows(os.path.join(run_dir, "sampler.csv"))
    last = max((int(r["epoch"]) for r in sampler_rows), default=None)
    for r in sampler_rows:
        by_epoch.setdefault(int(r["epoch"]), []).append(parse_float(r["probability"]))
        if int(r["epoch"]) == last:
            g = r["group"] or "(none)"
            last_draws[g] = last_draws.get(g, 0) + int(r["draws"])
    ess = [1.0 / sum(p * p for p in ps) for ps in by_epoch.values()]
    maxp = [max(ps) for ps in by_epoch.values()]
    total = sum(last_draws.values()) or 1
    return {
        "scored_epoch": epoch, "scored_iteration": scored_iteration, "stop_iteration": stop_iteration,
        "val_group_dice": val_group_dice, "val_worst_group_dice": worst_group,
        "samples": len(by_epoch[last]) if last is not None else 0,
        "ess_mean": fmean(ess), "ess_min": min(ess) if ess else math.nan,
        "maxp_mean": fmean(maxp), "maxp_max": max(maxp) if maxp else math.nan,
        "draw_share": {g: n / total for g, n in last_draws.items()},
    }


# ---- test cases ----------------------------------------------------------------------------------

def read_cases(path, label=None):
    """case → (group, mean Dice, mean HD95) from one per-case CSV; `label` restricts to one label."""
    per_case = {}
    for row in read_rows(path):
        if label is not None and row["label_name"] != label:
            continue
        e = per_case.setdefault(row["case"], {"group": row["group"] or "(none)", "dice": [], "hd95": []})
        e["dice"].append(parse_float(row["dice"]))
        e["hd95"].append(parse_float(row["hd95"]))
    return {c: (e["group"], fmean(e["dice"]), fmean(e["hd95"])) for c, e in per_case.items()}


def stats(dice, hd95):
    d = [x for x in dice if not math.isnan(x)]
    h = [x for x in hd95 if not math.isnan(x)]
    return {
        "dice_mean": fmean(d), "dice_median": percentile(d, 50), "dice_p10": percentile(d, 10),
        "dice_worst": min(d) if d else math.nan,
        "hd95_mean": fmean(h), "hd95_median": percentile(h, 50), "hd95_p90": percentile(h, 90),
        "hd95_worst": max(h) if h else math.nan,
    }


STAT_COLUMNS = [("dice_mean", "Dice mean", 3), ("dice_median", "median", 3), ("dice_p10", "P10", 3),
                ("dice_worst", "worst", 3), ("hd95_mean", "HD95 mean", 2), ("hd95_median", "median", 2),
                ("hd95_p90", "P90", 2), ("hd95_worst", "worst", 2)]


def test_table(results, arms, seeds, label=None, only_group=None):
    """{arm: {group: {stat: [per seed]}, "cases": {seed: {case: (group, dice, hd95)}}}}."""
    out = {}
    for arm in arms:
        out[arm] = {"groups": {}, "cases": {}}
        for seed in seeds:
            cases = read_cases(os.path.join(results, "cases", f"{arm}-seed{seed}.csv"), label)
            out[arm]["cases"][seed] = cases
            by_group = {}
            for case, (group, dice, hd) in cases.items():
                if only_group is not None and group != only_group:
                    continue
                by_group.setdefault(group, []).append((dice, hd))
                if only_group is None:
                    by_group.setdefault("all", []).append((dice, hd))
            for group, values in by_group.items():
                s = stats([d for d, _ in values], [h for _, h in values])
                g = out[arm]["groups"].setdefault(group, {"n": len(values)} | {k: [] for k, _, _ in STAT_COLUMNS})
                for k, _, _ in STAT_COLUMNS:
                    g[k].append(s[k])
    return out


def group_order(groups, rare):
    gs = sorted(g for g in groups if g != "all")
    return ([rare] if rare in gs else []) + [g for g in gs if g != rare] + (["all"] if "all" in groups else [])


def paired(table, arm, seeds, group, metric, baseline="uniform"):
    """Per-case differences arm − baseline (values averaged over seeds) with the Wilcoxon
    signed-rank test, and the per-seed mean differences."""
    from scipy.stats import wilcoxon
    index = 1 if metric == "dice" else 2

    def per_case(a):
        cases = {}
        for seed in seeds:
            for case, v in table[a]["cases"][seed].items():
                if group == "all" or v[0] == group:
                    cases.setdefault(case, []).append(v[index])
        return {c: fmean(v) for c, v in cases.items()}

    mine, base = per_case(arm), per_case(baseline)
    common = sorted(set(mine) & set(base))
    diffs = [mine[c] - base[c] for c in common
             if not (math.isinf(mine[c]) or math.isinf(base[c]) or math.isnan(mine[c]) or math.isnan(base[c]))]
    per_seed = []
    for seed in seeds:
        a, b = table[arm]["cases"][seed], table[baseline]["cases"][seed]
        d = [a[c][index] - b[c][index] for c in a if c in b and (group == "all" or a[c][0] == group)
             and all(math.isfinite(x) for x in (a[c][index], b[c][index]))]
        per_seed.append(statistics.fmean(d) if d else math.nan)
    p = math.nan
    if diffs and any(d != 0 for d in diffs):
        p = float(wilcoxon(diffs, zero_method="wilcox", alternative="two-sided").pvalue)
    return {"n": len(diffs), "excluded": len(common) - len(diffs), "per_case": diffs, "per_seed": per_seed, "p": p}


# ---- commands --------------------------------------------------------------------------------------

def choose_beta(results, arms, seeds, groups):
    rows, best = [], None
    for arm in arms:
        values = [run_summary(results, arm, s, groups)["val_worst_group_dice"] for s in seeds]
        m, sd = mean_sd(values)
        beta = float(arm[len("hardness_b"):])
        rows.append((arm, beta, values, m, sd))
        if not math.isnan(m) and (best is None or m > best[3] or (m == best[3] and beta < best[1])):
            best = (arm, beta, values, m, sd)
    if best is None:
        raise SystemExit("report.py: no validation Dice in the β sweep's runs")
    lines = ["β choice: for each β and seed, the validation Dice at the scored checkpoint (lowest mean "
             "validation loss), per case the mean over foreground labels, per group the mean over its "
             "validation cases; the lowest group is the worst group. Highest mean over seeds wins "
             "(smaller β on a tie).", "",
             "| β | worst-group validation Dice per seed | mean ± SD |", "|---:|---|---:|"]
    for arm, beta, values, m, sd in rows:
        mark = " **(chosen)**" if arm == best[0] else ""
        lines.append(f"| {arm[len('hardness_b'):]}{mark} | {', '.join(fmt(v, 3) for v in values)} | {fmt_pm(values, 3)} |")
    with open(os.path.join(results, "beta_choice.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return best[0][len("hardness_b"):]


def calibrate_beta(results, seeds):
    """β for hardness_spread: SPREAD_PRODUCT / mean over seeds of (P90 − P10) of the uniform
    run's last per-case training losses (sampler.csv, last logged epoch)."""
    spreads = []
    for seed in seeds:
        sampler = read_rows(os.path.join(results, "runs", f"uniform-seed{seed}", "sampler.csv"))
        last = max(int(r["epoch"]) for r in sampler)
        losses = [parse_float(r["stale_loss"]) for r in sampler if int(r["epoch"]) == last]
        losses = [x for x in losses if not math.isnan(x)]
        if len(losses) < 2:
            raise SystemExit(f"report.py: uniform-seed{seed}: fewer than 2 cases with a training loss in sampler.csv")
        spreads.append(percentile(losses, 90) - percentile(losses, 10))
    spread = statistics.fmean(spreads)
    if not spread > 0:
        raise SystemExit("report.py: the ERM runs' per-case losses have no spread; cannot calibrate β")
    beta = SPREAD_PRODUCT / spread
    text = (f"hardness_spread (ours, not the paper's): β = {SPREAD_PRODUCT:g} / spread = {beta:.4g}, spread = mean over "
            f"seeds of P90 − P10 of the ERM runs' last per-case training losses: "
            + ", ".join(f"{x:.4f}" for x in spreads) + f" (mean {spread:.4f}).")
    with open(os.path.join(results, "beta_spread.md"), "w") as f:
        f.write(text + "\n")
    return f"{beta:.4g}"


def table_command(a, arms, seeds, groups):
    results = a.results
    group_counts = {}
    for g in groups.values():
        group_counts[g] = group_counts.get(g, 0) + 1
    rare = a.rare_group or min(sorted(group_counts), key=lambda g: group_counts[g])
    titles = {arm: arm_title(arm, a.best_beta, a.spread_beta) for arm in arms}
    runs = {arm: [run_summary(results, arm, s, groups) for s in seeds] for arm in arms}
    test = test_table(results, arms, seeds)
    spread = "mean ± SD over seeds" if len(seeds) > 1 else "one seed, no spread"
    lines = ([a.header, ""] if a.header else [])
    lines += [f"Seeds {', '.join(map(str, seeds))}; every number is {spread}. Rare group: `{rare}` "
              f"(the smallest training group).", ""]

    lines += ["**Stopping.** Iterations trained (the stop: patience or cap) and the iteration of the scored "
              "checkpoint (lowest mean validation loss).", "",
              "| method | stopped at iteration | scored checkpoint at iteration | validation Dice of the worst group |",
              "|---|---:|---:|---:|"]
    for arm in arms:
        r = runs[arm]
        lines.append(f"| {titles[arm]} | {fmt_pm([x['stop_iteration'] for x in r], 0)} | "
                     f"{fmt_pm([x['scored_iteration'] for x in r], 0)} | {fmt_pm([x['val_worst_group_dice'] for x in r], 3)} |")

    header = "| method | group | cases | " + " | ".join(t for _, t, _ in STAT_COLUMNS) + " |"
    rule = "|---|---|---:|" + "---:|" * len(STAT_COLUMNS)
    lines += ["", "**Test set, all foreground labels** (per case: Dice = mean over labels, HD95 = mean over "
              "labels in mm; Dice: mean, median, 10th percentile, worst; HD95: mean, median, 90th percentile, worst).",
              "", header, rule]
    all_groups = {g for arm in arms for g in test[arm]["groups"]}
    for group in group_order(all_groups, rare):
        for arm in arms:
            g = test[arm]["groups"].get(group)
            if g:
                lines.append(f"| {titles[arm]} | {group} | {g['n']} | "
                             + " | ".join(fmt_pm(g[k], d) for k, _, d in STAT_COLUMNS) + " |")

    # Per label, rare group.
    labels = []
    for row in read_rows(os.path.join(results, "cases", f"{arms[0]}-seed{seeds[0]}.csv")):
        if row["label_name"] not in labels:
            labels.append(row["label_name"])
    per_label = {}
    lines += ["", f"**Test set, rare group `{rare}`, per label.**", "",
              "| label | method | cases | " + " | ".join(t for _, t, _ in STAT_COLUMNS) + " |",
              "|---|---|---:|" + "---:|" * len(STAT_COLUMNS)]
    for label in labels:
        per_label[label] = test_table(results, arms, seeds, label=label, only_group=rare)
        for arm in arms:
            g = per_label[label][arm]["groups"].get(rare)
            if g:
                lines.append(f"| {label} | {titles[arm]} | {g['n']} | "
                             + " | ".join(fmt_pm(g[k], d) for k, _, d in STAT_COLUMNS) + " |")

    comparisons = []
    if "uniform" in arms:
        lines += ["", "**Paired with ERM (uniform), per test case.** Δ = method − ERM (mean over seeds of the "
                  "per-seed mean per-case difference ± SD); p = Wilcoxon signed-rank test on the per-case "
                  "differences of the seed-averaged values (two-sided, zero_method=\"wilcox\": zero differences "
                  "dropped). HD95: cases with an infinite value are left out (count in brackets).", "",
                  "| group | method | Δ Dice | p (Dice) | Δ HD95 (mm) | p (HD95) | cases |", "|---|---|---:|---:|---:|---:|---:|"]
        for group in group_order(all_groups, rare):
            for arm in arms:
                if arm == "uniform":
                    continue
                d = paired(test, arm, seeds, group, "dice")
                h = paired(test, arm, seeds, group, "hd95")
                comparisons.append({"group": group, "arm": arm, "dice": d, "hd95": h})
                sign = lambda ps, k: fmt_pm(ps, k) if not all(math.isnan(x) for x in ps) else "n/a"
                dm = sign(d["per_seed"], 3)
                hm = sign(h["per_seed"], 2)
                lines.append(f"| {group} | {titles[arm]} | {'+' if mean_sd(d['per_seed'])[0] > 0 else ''}{dm} | "
                             f"{fmt(d['p'], 3)} | {'+' if mean_sd(h['per_seed'])[0] > 0 else ''}{hm} | {fmt(h['p'], 3)} | "
                             f"{d['n']}" + (f" ({h['excluded']} inf)" if h["excluded"] else "") + " |")

    groups_sorted = group_order({g for arm in arms for x in runs[arm] for g in x["draw_share"]}, rare)
    lines += ["", "**Sampling.** Share of training draws per group over the whole run; effective sample size "
              "1/Σp² of the sampling distribution (mean over logged epochs, and its minimum) out of N samples; "
              "largest single probability max p (mean over epochs, and its maximum).", "",
              "| method | " + " | ".join(f"draws to {g}" for g in groups_sorted) + " | N | ESS mean | ESS min | max p mean | max p max |",
              "|---|" + "---:|" * (len(groups_sorted) + 5)]
    for arm in arms:
        r = runs[arm]
        shares = [fmt_pm([100 * x["draw_share"].get(g, 0.0) for x in r], 1) + " %" for g in groups_sorted]
        lines.append(f"| {titles[arm]} | " + " | ".join(shares)
                     + f" | {fmt_pm([x['samples'] for x in r], 0)} | {fmt_pm([x['ess_mean'] for x in r], 1)} | "
                     f"{fmt_pm([x['ess_min'] for x in r], 1)} | {fmt_pm([x['maxp_mean'] for x in r], 3)} | "
                     f"{fmt_pm([x['maxp_max'] for x in r], 3)} |")
    for extra in ["beta_choice.md", "beta_spread.md"]:
        if os.path.exists(os.path.join(results, extra)):
            with open(os.path.join(results, extra)) as f:
                lines += ["", f.read().rstrip()]
    lines += ["", "Sampling heatmaps: `plots/<arm>-seed<S>-sampling.png`."]

    text = "\n".join(lines) + "\n"
    with open(os.path.join(results, "table.md"), "w") as f:
        f.write(text)
    summary = {"arms": arms, "seeds": seeds, "rare_group": rare, "best_beta": a.best_beta, "spread_beta": a.spread_beta,
               "runs": runs, "test": {arm: test[arm]["groups"] for arm in arms},
               "rare_per_label": {label: {arm: t[arm]["groups"].get(rare) for arm in arms} for label, t in per_label.items()},
               "paired": comparisons}

    def clean(x):  # JSON has no inf/nan: strings, as dro-eval writes them
        if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
            return "inf" if math.isinf(x) else "nan"
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x
    with open(os.path.join(results, "table.json"), "w") as f:
        json.dump(clean(summary), f, indent=2, ensure_ascii=False)
    sys.stdout.write(text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["choose-beta", "calibrate-beta", "table"])
    p.add_argument("--results", required=True, help="experiment results folder (runs/, cases/)")
    p.add_argument("--arms", required=True, help="comma-separated arms")
    p.add_argument("--seeds", required=True, help="comma-separated training seeds")
    p.add_argument("--groups", required=True, help="case,group CSV of the training (and validation) cases")
    p.add_argument("--rare-group", default="", help="default: the smallest group of --groups")
    p.add_argument("--best-beta", default=None, help="β used by hardness_is / hardness_patch (for the titles)")
    p.add_argument("--spread-beta", default=None, help="β used by hardness_spread (for the titles)")
    p.add_argument("--header", default="", help="text put above the tables (e.g. the command)")
    a = p.parse_args(argv)
    arms = [x for x in a.arms.split(",") if x]
    seeds = [int(x) for x in a.seeds.split(",") if x]
    groups = read_groups(a.groups)
    if a.command == "choose-beta":
        print(choose_beta(a.results, arms, seeds, groups))
    elif a.command == "calibrate-beta":
        print(calibrate_beta(a.results, seeds))
    else:
        table_command(a, arms, seeds, groups)
    return 0


if __name__ == "__main__":
    sys.exit(main())
