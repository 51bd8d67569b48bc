#!/usr/bin/env bash
# Flat against bucketed gradient allreduce (docs/scaling.md): the reference network of
# scripts/scaling_bench.sh trained by `mpirun -np 2` × 1 thread, batch 2 per rank, once per
# variant and round, the variants interleaved so they share the machine's load:
#   flat            one MPI_Allreduce of the whole gradient after backward
#   bucketed        MPI_Iallreduce per bucket during backward, MPI_Testall after each layer
#   bucketed-nopoll the same without MPI_Testall (Open MPI advances the sums only in MPI calls)
# Prints, per run: mean step seconds (iterations 2..N of rank 0's train_log.csv) and the
# communication line dro-train prints at the end.
#   [BUCKET_MB=1] [MPIRUN_ARGS=...] scripts/allreduce_bench.sh [ITERATIONS] [ROUNDS] [OUT]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${DRO_BIN:-$ROOT/.build/release}
ITERATIONS=${1:-8}
ROUNDS=${2:-2}
OUT=${3:-$(mktemp -d)}
BUCKET_MB=${BUCKET_MB:-1}
DATA=$OUT/data
mkdir -p "$OUT"
[[ -d $DATA ]] || "$BIN/dro-train" --make-demo-data "$DATA" --cases 8 --test-cases 0 --seed 1 >/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
SETS=(--set "data.dataset=$DATA" --set "data.groups=$DATA/groups.csv" --set "data.val_fraction=0"
      --set "model.features=[16,32,64,128]" --set "model.deep_supervision=false"
      --set "training.patch_size=[64,64,64]" --set "training.batch_size=2" --set "training.optimizer=sgd"
      --set "training.lr=0.01" --set "training.momentum=0.99" --set "training.nesterov=true"
      --set "training.epochs=1" --set "training.iterations_per_epoch=$ITERATIONS" --set "output.plots=false"
      --set "training.threads=1" --set "training.allreduce_bucket_mb=$BUCKET_MB")
CFG=$ROOT/configs/demo.cfg
for round in $(seq "$ROUNDS"); do
  for variant in flat bucketed bucketed-nopoll; do
    case $variant in
      flat) V=(--set training.allreduce=flat) ;;
      bucketed) V=(--set training.allreduce=bucketed --set training.allreduce_poll=true) ;;
      bucketed-nopoll) V=(--set training.allreduce=bucketed --set training.allreduce_poll=false) ;;
    esac
    RUN=$OUT/$variant-$round
    rm -rf "$RUN"
    load=$(cut -d' ' -f1 /proc/loadavg)
    line=$(mpirun -np 2 --oversubscribe ${MPIRUN_ARGS:-} "$BIN/dro-train" --config "$CFG" "${SETS[@]}" "${V[@]}" \
        --output "$RUN" 2>&1 | grep -E "^communication" || true)
    python3 - "$RUN" "$variant" "$round" "$load" "$line" <<'PY'
import csv, sys
run, variant, rnd, load, line = sys.argv[1:]
steps = [float(r["step_seconds"]) for r in list(csv.DictReader(open(run + "/train_log.csv")))[1:]]
print(f"round {rnd} {variant:16s} load {load:>5s}: {sum(steps) / len(steps):.3f} s per step ({len(steps)} steps); {line}")
PY
  done
done
