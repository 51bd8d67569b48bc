#!/usr/bin/env bash
# Data-parallel throughput on one machine (docs/scaling.md): the reference network of
# configs/bench.cfg ([16, 32, 64, 128], 64³ patches, SGD) trained on the demo phantom for a few
# iterations as
#   A. 1 process × 1 thread, batch 2
#   B. 1 process × 2 threads, batch 2
#   C. 2 ranks × 1 thread (mpirun), batch 2 per rank (global batch 4)
#   D. two independent 1-thread processes at once, batch 2 each
# and prints samples/s (from train_log.csv's step_seconds, the first iteration left out) and, for
# C, the gradient allreduce time per step that dro-train reports at the end.
#   [MPIRUN_ARGS="--mca mpi_yield_when_idle 1"] scripts/scaling_bench.sh [ITERATIONS] [OUT]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${DRO_BIN:-$ROOT/.build/release}
ITERATIONS=${1:-8}
OUT=${2:-$(mktemp -d)}
DATA=$OUT/data
mkdir -p "$OUT"
[[ -d $DATA ]] || "$BIN/dro-train" --make-demo-data "$DATA" --cases 8 --test-cases 0 --seed 1 >/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
SETS=(--set "data.dataset=$DATA" --set "data.groups=$DATA/groups.csv" --set "data.val_fraction=0"
      --set "model.features=[16,32,64,128]" --set "model.deep_supervision=false"
      --set "training.patch_size=[64,64,64]" --set "training.batch_size=2" --set "training.optimizer=sgd"
      --set "training.lr=0.01" --set "training.momentum=0.99" --set "training.nesterov=true"
      --set "training.epochs=1" --set "training.iterations_per_epoch=$ITERATIONS" --set "output.plots=false")
CFG=$ROOT/configs/demo.cfg
rate() {  # samples/s of a run folder: batch / mean step_seconds over iterations 2..N
  python3 - "$1" "$2" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/train_log.csv")))[1:]
steps = [float(r["step_seconds"]) for r in rows]
mean = sum(steps) / len(steps)
print(f"{sys.argv[1]}: {len(steps)} steps, {mean:.3f} s per step, {int(sys.argv[2]) / mean:.3f} samples/s")
PY
}
rm -rf "$OUT"/{A,B,C,D1,D2}
if [[ -z ${ONLY_CD:-} ]]; then  # ONLY_CD=1: C and D alone (pairs under the same load)
"$BIN/dro-train" --config "$CFG" "${SETS[@]}" --set training.threads=1 --output "$OUT/A" --quiet
rate "$OUT/A" 2
"$BIN/dro-train" --config "$CFG" "${SETS[@]}" --set training.threads=2 --output "$OUT/B" --quiet
rate "$OUT/B" 2
fi
mpirun -np 2 --oversubscribe ${MPIRUN_ARGS:-} "$BIN/dro-train" --config "$CFG" "${SETS[@]}" --set training.threads=1 --output "$OUT/C" \
    2>&1 | grep -E "communication|data-parallel" || true
rate "$OUT/C" 4
"$BIN/dro-train" --config "$CFG" "${SETS[@]}" --set training.threads=1 --output "$OUT/D1" --quiet &
"$BIN/dro-train" --config "$CFG" "${SETS[@]}" --set training.threads=1 --set training.seed=1 --output "$OUT/D2" --quiet
wait
rate "$OUT/D1" 2
rate "$OUT/D2" 2
