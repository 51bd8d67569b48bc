#!/usr/bin/env bash
# The robustness experiment: does hardness weighted sampling (DRO) help the under-represented
# group? One command: data → 3 training arms × N seeds → dro-infer → dro-eval --groups → table.
#
#   scripts/experiment.sh [--budget-minutes M] [--seed S] [--seeds N] [--dataset DIR] [--out DIR]
#                         [--bin DIR] [--iterations N] [--train-cases N] [--test-cases N]
#                         [--rare-fraction F] [--test-rare-fraction F] [--threads T]
#                         [--infer-overlap O] [--set key=value ...]
#
# Arms (same network, same iteration budget, same seed; only the sampler differs):
#   uniform      sampler.kind=uniform                                    (ERM, β = 0)
#   hardness     sampler.kind=hardness, beta=100
#   hardness_is  sampler.kind=hardness, beta=100, importance_sampling=true
# See docs/experiment.md for the budget rule, the outputs and how to read the table.
set -euo pipefail

# ---- defaults (documented in docs/experiment.md) ----------------------------------------------
BUDGET_MINUTES=30        # wall-clock budget for all arms and seeds, warm-up included
SEED=0                   # dataset seed and first training seed
SEEDS=3                  # training seeds SEED, SEED+1, ...; reduced when the budget is too small
USER_DATASET=""
DATASET=""               # nnU-Net v2 folder with imagesTr/labelsTr, imagesTs/labelsTs, groups.csv
OUT=""
BIN="${DRO_BIN:-}"
ITERATIONS=""            # fixed iteration count per arm and seed (skips the warm-up measurement)
TRAIN_CASES=30
TEST_CASES=16
RARE_FRACTION=0.1        # rare group share of the generated training set
TEST_RARE_FRACTION=0.5   # ... and of the generated test set
TEST_SEED_OFFSET=1000    # (older dro-train only) test phantoms from seed SEED+1000
MIN_ITERATIONS=100       # below this per run, fewer seeds are used (a barely trained net says nothing)
WARMUP_ITERATIONS=8      # iterations timed before the budget is split
BUDGET_SAFETY=0.85       # share of the remaining budget planned for (the machine's load varies)
THREADS=2                # training and inference threads (1 is faster on a heavily shared machine)
INFER_OVERLAP=0          # sliding-window overlap at test time; 0 tiles a 64³ phantom into 8 windows of
                         # 32³ (the budget goes to training; 0.5, nnU-Net's, costs 3.4× more)
ARMS=(uniform hardness hardness_is)
SETS=()

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "experiment.sh: $*" >&2; exit 1; }
usage_error() { echo "experiment.sh: $*" >&2; usage >&2; exit 64; }
need_value() { [[ $# -ge 2 && -n "$2" ]] || usage_error "$1 needs a value"; }
is_int() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_number() { [[ "$1" =~ ^[0-9]*\.?[0-9]+$ ]]; }

ORIGINAL_ARGS=("$@")
ORIGINAL_COMMAND="scripts/experiment.sh${*:+ $(printf '%q ' "$@")}"
ORIGINAL_COMMAND="${ORIGINAL_COMMAND% }"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --budget-minutes) need_value "$@"; BUDGET_MINUTES="$2"; shift 2 ;;
        --seed) need_value "$@"; SEED="$2"; shift 2 ;;
        --seeds) need_value "$@"; SEEDS="$2"; shift 2 ;;
        --dataset) need_value "$@"; DATASET="$2"; USER_DATASET=1; shift 2 ;;
        --out) need_value "$@"; OUT="$2"; shift 2 ;;
        --bin) need_value "$@"; BIN="$2"; shift 2 ;;
        --iterations) need_value "$@"; ITERATIONS="$2"; shift 2 ;;
        --train-cases) need_value "$@"; TRAIN_CASES="$2"; shift 2 ;;
        --test-cases) need_value "$@"; TEST_CASES="$2"; shift 2 ;;
        --rare-fraction) need_value "$@"; RARE_FRACTION="$2"; shift 2 ;;
        --test-rare-fraction) need_value "$@"; TEST_RARE_FRACTION="$2"; shift 2 ;;
        --threads) need_value "$@"; THREADS="$2"; shift 2 ;;
        --infer-overlap) need_value "$@"; INFER_OVERLAP="$2"; shift 2 ;;
        --set) need_value "$@"; SETS+=("--set" "$2"); shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown option '$1'" ;;
    esac
done
is_number "$BUDGET_MINUTES" || usage_error "--budget-minutes must be a positive number, got '$BUDGET_MINUTES'"
is_int "$SEED" || usage_error "--seed must be an integer ≥ 0, got '$SEED'"
is_int "$SEEDS" && [[ "$SEEDS" -ge 1 ]] || usage_error "--seeds must be an integer ≥ 1, got '$SEEDS'"
[[ -z "$ITERATIONS" ]] || { is_int "$ITERATIONS" && [[ "$ITERATIONS" -ge 1 ]]; } \
    || usage_error "--iterations must be an integer ≥ 1, got '$ITERATIONS'"
is_int "$TRAIN_CASES" && [[ "$TRAIN_CASES" -ge 2 ]] || usage_error "--train-cases must be an integer ≥ 2"
is_int "$TEST_CASES" && [[ "$TEST_CASES" -ge 1 ]] || usage_error "--test-cases must be an integer ≥ 1"
is_int "$THREADS" && [[ "$THREADS" -ge 1 ]] || usage_error "--threads must be an integer ≥ 1"
is_number "$INFER_OVERLAP" || usage_error "--infer-overlap must be a number in [0, 1), got '$INFER_OVERLAP'"
[[ -z "$DATASET" || -d "$DATASET" ]] || usage_error "--dataset $DATASET: no such folder"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIG="$REPO/configs/experiment.cfg"
PYTHON="$(command -v python3 || true)"
[[ -n "$PYTHON" ]] || die "python3 is needed for the table (standard library only)"
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
log() { echo "[experiment $(printf '%4ds' "$(elapsed)")] $*" >&2; }

# ---- binaries ----------------------------------------------------------------------------------
if [[ -z "$BIN" ]]; then
    log "building release binaries (incremental; nothing to do when up to date)"
    (cd "$REPO" && for p in dro-train dro-infer dro-eval; do swift build -c release --product "$p" >&2 || exit 1; done) \
        || die "swift build -c release failed"
    BIN="$REPO/.build/release"
fi
BIN="$(cd "$BIN" && pwd)" || die "--bin $BIN: no such folder"
for tool in dro-train dro-infer dro-eval; do
    [[ -x "$BIN/$tool" ]] || die "$BIN/$tool: missing (build with swift build -c release, or pass --bin DIR)"
done

# ---- output folder -----------------------------------------------------------------------------
[[ -n "$OUT" ]] || OUT="$REPO/results/experiment-$(date -u +%Y%m%d-%H%M%S)"
[[ ! -e "$OUT/table.md" ]] || die "$OUT already holds an experiment (table.md); choose another --out"
mkdir -p "$OUT"/{logs,runs,pred,cases,eval,plots}
OUT="$(cd "$OUT" && pwd)"
COMMANDS="$OUT/commands.log"
: > "$COMMANDS"
# Runs one step, its output in logs/<name>.log; the command line goes to commands.log.
run_step() {
    local name="$1"; shift
    printf '%q ' "$@" >> "$COMMANDS"; echo >> "$COMMANDS"
    if ! "$@" > "$OUT/logs/$name.log" 2>&1; then
        tail -n 5 "$OUT/logs/$name.log" >&2
        die "step '$name' failed (full output: $OUT/logs/$name.log)"
    fi
}

# ---- data --------------------------------------------------------------------------------------
if [[ -z "$DATASET" ]]; then
    DATASET="$OUT/data/phantom"
    log "generating phantoms: $TRAIN_CASES training cases (rare fraction $RARE_FRACTION), $TEST_CASES test cases (rare fraction $TEST_RARE_FRACTION)"
    TRAIN_HELP="$("$BIN/dro-train" --help 2>&1 || true)"
    if [[ "$TRAIN_HELP" == *--test-rare-fraction* ]]; then
        # One call: training cases from split 0, test cases (phantom_ts_*) from split 1 of the seed.
        run_step make-data "$BIN/dro-train" --make-demo-data "$DATASET" --cases "$TRAIN_CASES" \
            --rare-fraction "$RARE_FRACTION" --seed "$SEED" --test-cases "$TEST_CASES" \
            --test-rare-fraction "$TEST_RARE_FRACTION"
    else
        # Older dro-train without a test split: a second phantom set from seed SEED+1000 becomes
        # the dataset's imagesTs/labelsTs as phantom_ts_*, its groups appended.
        run_step make-train-data "$BIN/dro-train" --make-demo-data "$DATASET" --cases "$TRAIN_CASES" \
            --rare-fraction "$RARE_FRACTION" --seed "$SEED"
        run_step make-test-data "$BIN/dro-train" --make-demo-data "$OUT/data/test-tmp" --cases "$TEST_CASES" \
            --rare-fraction "$TEST_RARE_FRACTION" --seed "$((SEED + TEST_SEED_OFFSET))"
        mkdir -p "$DATASET/imagesTs" "$DATASET/labelsTs"
        for f in "$OUT/data/test-tmp/imagesTr/"*.nii.gz; do
            b="$(basename "$f")"; mv "$f" "$DATASET/imagesTs/${b/phantom_/phantom_ts_}"
        done
        for f in "$OUT/data/test-tmp/labelsTr/"*.nii.gz; do
            b="$(basename "$f")"; mv "$f" "$DATASET/labelsTs/${b/phantom_/phantom_ts_}"
        done
        tail -n +2 "$OUT/data/test-tmp/groups.csv" | sed 's/^phantom_/phantom_ts_/' >> "$DATASET/groups.csv"
        rm -rf "$OUT/data/test-tmp"
    fi
fi
DATASET="$(cd "$DATASET" && pwd)"
for d in imagesTr labelsTr imagesTs labelsTs; do
    [[ -d "$DATASET/$d" ]] || die "$DATASET/$d: missing (the experiment needs a training and a labelled test split)"
done
GROUPS_CSV="$DATASET/groups.csv"
[[ -f "$GROUPS_CSV" ]] || die "$GROUPS_CSV: missing (case,group rows for the training and test cases)"
# The trainer refuses groups of cases it does not have: give it the training cases' rows only.
TRAIN_GROUPS="$OUT/groups_train.csv"
echo "case,group" > "$TRAIN_GROUPS"
while IFS=, read -r id group; do
    id="${id//\"/}"; [[ -n "$id" && "$id" != "case" ]] || continue
    if [[ -n "$(compgen -G "$DATASET/labelsTr/$id.nii*")" ]]; then echo "$id,$group" >> "$TRAIN_GROUPS"; fi
done < <(tr -d '\r' < "$GROUPS_CSV")
N_TRAIN=$(ls "$DATASET/labelsTr" | grep -c '\.nii' || true)
N_TEST=$(ls "$DATASET/labelsTs" | grep -c '\.nii' || true)
[[ "$N_TRAIN" -ge 2 && "$N_TEST" -ge 1 ]] || die "$DATASET: needs ≥ 2 training and ≥ 1 test labels (found $N_TRAIN, $N_TEST)"

COMMON_SETS=(--set "data.dataset=$DATASET" --set "data.groups=$TRAIN_GROUPS" --set "training.threads=$THREADS" "${SETS[@]}")
# Batch size as the config resolves it (after --set): one epoch = ⌈N/B⌉ iterations.
BATCH=$("$BIN/dro-train" --config "$CONFIG" "${COMMON_SETS[@]}" --print-config \
        | awk '/^training:/{t=1} t && /^  batch_size:/{print $2; exit}')
is_int "$BATCH" || die "could not read training.batch_size from dro-train --print-config"
PER_EPOCH=$(( (N_TRAIN + BATCH - 1) / BATCH ))

train_arm() {  # arm seed iterations run_dir → trains one arm
    local arm="$1" seed="$2" iterations="$3" dir="$4" sampler
    case "$arm" in
        uniform) sampler=(--set sampler.kind=uniform --set sampler.beta=0) ;;
        hardness) sampler=(--set sampler.kind=hardness --set sampler.beta=100 --set sampler.importance_sampling=false) ;;
        hardness_is) sampler=(--set sampler.kind=hardness --set sampler.beta=100 --set sampler.importance_sampling=true) ;;
    esac
    local epochs=$(( iterations / PER_EPOCH )); [[ $epochs -ge 1 ]] || epochs=1
    local per_epoch=$(( iterations / epochs ))
    run_step "train-$(basename "$dir")" "$BIN/dro-train" --config "$CONFIG" "${COMMON_SETS[@]}" "${sampler[@]}" \
        --set "training.seed=$seed" --set "training.epochs=$epochs" --set "training.iterations_per_epoch=$per_epoch" \
        --output "$dir" --quiet
}

infer_run() {  # run_dir pred_dir [inputs...]
    local dir="$1" pred="$2"; shift 2
    run_step "infer-$(basename "$pred")" "$BIN/dro-infer" --model "$dir/checkpoint_latest.ckpt" \
        --input "$@" --output "$pred" --threads "$THREADS" --overlap "$INFER_OVERLAP" --overwrite
}

# ---- iteration budget --------------------------------------------------------------------------
if [[ -n "$ITERATIONS" ]]; then
    PLAN="fixed: --iterations $ITERATIONS"
else
    log "warm-up: timing $WARMUP_ITERATIONS training iterations and inference of 2 test cases"
    W0=$(date +%s)
    train_arm hardness "$SEED" "$WARMUP_ITERATIONS" "$OUT/warmup/run"
    W1=$(date +%s)
    mapfile -t SOME < <(ls "$DATASET/imagesTs/"*.nii* | head -n 2)
    infer_run "$OUT/warmup/run" "$OUT/warmup/pred" "${SOME[@]}"
    W2=$(date +%s)
    # Steady-state seconds per iteration: the log's elapsed seconds between the first and last
    # iteration (the first one carries the start-up cost).
    SEC_PER_IT=$(awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="seconds") c=i; next}
                          NR==2{first=$c} {last=$c; n=NR-1} END{ if(n>1) printf "%.4f", (last-first)/(n-1); else print "" }' \
                 "$OUT/warmup/run/train_log.csv")
    [[ -n "$SEC_PER_IT" ]] || die "warm-up: no timing in $OUT/warmup/run/train_log.csv"
    read -r ITERATIONS SEEDS PLAN < <("$PYTHON" - "$BUDGET_MINUTES" "$SEC_PER_IT" "$((W1 - W0))" "$((W2 - W1))" \
        "$N_TEST" "$SEEDS" "${#ARMS[@]}" "$(elapsed)" "$MIN_ITERATIONS" "$BUDGET_SAFETY" "$WARMUP_ITERATIONS" <<'EOF'
import math, sys
budget, sec_it, train_wall, infer_wall, n_test, seeds, arms, spent, min_it, safety, warm = sys.argv[1:]
budget, sec_it, train_wall, infer_wall = float(budget) * 60, float(sec_it), float(train_wall), float(infer_wall)
n_test, seeds, arms, spent, min_it, safety, warm = int(n_test), int(seeds), int(arms), float(spent), int(min_it), float(safety), int(warm)
startup = max(0.0, train_wall - warm * sec_it)           # loading cases, writing checkpoint and plots
per_run_fixed = startup + infer_wall / 2 * n_test + 5.0  # + dro-eval (a few seconds)
available = max(0.0, (budget - spent) * safety)
def iterations(s):
    return int((available / (arms * s) - per_run_fixed) / sec_it)
chosen = seeds
while chosen > 1 and iterations(chosen) < min_it:
    chosen -= 1
it = max(1, iterations(chosen))
note = (f"measured {sec_it:.3f} s/iteration, {startup:.0f} s start-up, {infer_wall / 2:.1f} s/test case; "
        f"{available / 60:.1f} min planned for {arms} arms x {chosen} seed(s)")
if chosen < seeds:
    note += f" (asked for {seeds} seeds: the budget allows fewer at >= {min_it} iterations)"
print(it, chosen, note)
EOF
    ) || die "could not plan the iteration budget from the warm-up"
fi
# Whole epochs: the run trains epochs × iterations-per-epoch, which may round the budget down.
EPOCHS=$(( ITERATIONS / PER_EPOCH )); [[ $EPOCHS -ge 1 ]] || EPOCHS=1
ITERATIONS=$(( (ITERATIONS / EPOCHS) * EPOCHS ))
SEED_LIST=$(seq -s, "$SEED" "$((SEED + SEEDS - 1))")
log "budget: $ITERATIONS iterations per arm and seed ($EPOCHS epochs × $((ITERATIONS / EPOCHS))), seeds $SEED_LIST ($PLAN)"
cat > "$OUT/experiment.txt" <<EOF
command: $ORIGINAL_COMMAND
commit: $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$REPO" && git diff --quiet 2>/dev/null || echo " (with local changes)")
started: $(date -u -d "@$START" '+%Y-%m-%d %H:%M:%S UTC')
dataset: $DATASET ($N_TRAIN training, $N_TEST test cases)
iterations per arm and seed: $ITERATIONS (batch $BATCH, $EPOCHS epochs × $((ITERATIONS / EPOCHS)) iterations)
budget: $PLAN
seeds: $SEED_LIST
inference: overlap $INFER_OVERLAP; threads $THREADS
reproduce exactly: scripts/experiment.sh --iterations $ITERATIONS --seed $SEED --seeds $SEEDS --threads $THREADS --infer-overlap $INFER_OVERLAP$(if [[ -n "$USER_DATASET" ]]; then echo " --dataset $DATASET"; else echo " --train-cases $TRAIN_CASES --test-cases $TEST_CASES --rare-fraction $RARE_FRACTION --test-rare-fraction $TEST_RARE_FRACTION"; fi)${SETS[*]:+ $(printf '%q ' "${SETS[@]}")}
EOF

# ---- the arms ----------------------------------------------------------------------------------
for seed in $(seq "$SEED" "$((SEED + SEEDS - 1))"); do
    for arm in "${ARMS[@]}"; do
        name="$arm-seed$seed"
        log "$name: training $ITERATIONS iterations"
        train_arm "$arm" "$seed" "$ITERATIONS" "$OUT/runs/$name"
        log "$name: segmenting $N_TEST test cases"
        infer_run "$OUT/runs/$name" "$OUT/pred/$name" "$DATASET/imagesTs"
        run_step "eval-$name" "$BIN/dro-eval" --pred "$OUT/pred/$name" --gt "$DATASET/labelsTs" \
            --dataset-json "$DATASET/dataset.json" --groups "$GROUPS_CSV" \
            --csv "$OUT/cases/$name.csv" --json "$OUT/eval/$name.json"
        for png in "$OUT/runs/$name/"*.png; do
            if [[ -e "$png" ]]; then cp "$png" "$OUT/plots/$name-$(basename "$png")"; fi
        done
    done
done

# ---- table -------------------------------------------------------------------------------------
HEADER="Command: \`$ORIGINAL_COMMAND\` — $ITERATIONS iterations per arm and seed, $N_TRAIN training / $N_TEST test cases; $PLAN."
"$PYTHON" "$REPO/scripts/experiment/make_table.py" --results "$OUT" --arms "$(IFS=,; echo "${ARMS[*]}")" \
    --seeds "$SEED_LIST" --header "$HEADER" > /dev/null
log "done in $(( $(elapsed) / 60 )) min $(( $(elapsed) % 60 )) s: $OUT/table.md"
cat "$OUT/table.md"
