#!/usr/bin/env bash
# The demo, end to end, on a fresh Debian machine with Swift:
#   set up (scripts/setup.sh, apt packages only) → release build → dro-train on the built-in
#   phantom (configs/demo.cfg writes it to runs/demo-data on first use) → dro-infer on the
#   phantom's held-out test cases → dro-eval with the rare group broken out, plus an HTML report.
# Outputs: runs/demo/ (checkpoints, logs, plots, predictions, eval.csv, report/index.html).
# Run it again after deleting runs/demo to retrain; the dataset is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
DRO_SKIP_PIP=1 bash scripts/setup.sh

echo "== building (release)"
swift build -c release
BIN="$(swift build -c release --show-bin-path)"

RUN=runs/demo
DATA=runs/demo-data
if [ -e "$RUN/checkpoint_latest.ckpt" ]; then
    echo "== $RUN already holds a run; continuing it (delete $RUN to start over)"
    "$BIN/dro-train" --config configs/demo.cfg --resume
else
    echo "== training (configs/demo.cfg)"
    "$BIN/dro-train" --config configs/demo.cfg
fi

MODEL="$RUN/checkpoint_best.ckpt"
[ -e "$MODEL" ] || MODEL="$RUN/checkpoint_latest.ckpt"
echo "== segmenting the test cases with $MODEL"
"$BIN/dro-infer" --model "$MODEL" --input "$DATA/imagesTs" --output "$RUN/predictions" --overwrite

echo "== evaluating"
"$BIN/dro-eval" --pred "$RUN/predictions" --gt "$DATA/labelsTs" --dataset-json "$DATA/dataset.json" \
    --groups "$DATA/groups.csv" --csv "$RUN/eval.csv" --json "$RUN/eval.json" \
    --html "$RUN/report" --image "$DATA/imagesTs"

echo
echo "demo done: training logs and plots in $RUN, per-case scores in $RUN/eval.csv,"
echo "report in $RUN/report/index.html"
