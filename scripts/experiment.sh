#!/usr/bin/env bash
# The robustness experiment: does hardness weighted sampling (DRO) help the under-represented
# group once every arm has converged? One command: data → every arm × N seeds, each trained to a
# validation plateau → dro-infer (best-validation-loss checkpoint) → dro-eval --groups → report.
#
#   scripts/experiment.sh [--out DIR] [--seed S] [--seeds N] [--arms LIST] [--betas LIST]
#                         [--dataset DIR] [--bin DIR] [--train-cases N] [--test-cases N]
#                         [--rare-fraction F] [--test-rare-fraction F] [--val-fraction F]
#                         [--max-epochs E] [--iterations-per-epoch I] [--patience P]
#                         [--parallel J] [--threads T] [--val-overlap O] [--infer-overlap O]
#                         [--set key=value ...]
#
# Resumable: run the same command with the same --out again and finished (arm, seed) runs are
# skipped, interrupted ones resume from their last checkpoint (settings must be the same).
# Arms (same network, seeds, stopping rule; only the sampler differs), docs/experiment.md:
#   uniform          ERM                     group_balanced   a group uniformly, then a case
#   hardness_b<β>    hardness, β ∈ --betas   hardness_is      hardness + importance weights, best β
#   hardness_patch   hardness, sampler.unit=patch, best β (best β: the β sweep's best mean
#                    worst-group validation Dice, chosen after the sweep)
#   hardness_spread  (ours, not the paper's; not in the default --arms) hardness with β = 3 / the
#                    spread (P90 − P10) of the uniform runs' per-case losses
set -euo pipefail

# ---- defaults (documented in docs/experiment.md, "Time plan") ---------------------------------
SEED=0                   # dataset seed and first training seed
SEEDS=3                  # training seeds SEED, SEED+1, ...
ARMS_ARG="uniform,group_balanced,hardness_b1,hardness_b10,hardness_b100,hardness_is,hardness_patch"
BETAS_DEFAULT=1          # 1 = --betas derived from the hardness_b<β> arms
USER_DATASET=""
DATASET=""
OUT=""
BIN="${DRO_BIN:-}"
TRAIN_CASES=40
TEST_CASES=20
RARE_FRACTION=0.1        # rare group share of the generated training set (4 of 40)
TEST_RARE_FRACTION=0.5   # ... and of the generated test set
VAL_FRACTION=0.2         # per group (data.val_fraction): 7 common + 1 rare validation cases
MAX_EPOCHS=60            # the cap (training.epochs); poly lr decay runs over the cap
ITERS_PER_EPOCH=25       # training.iterations_per_epoch; validation after every epoch
PATIENCE=6               # validations without improvement of the validation loss before stopping
PARALLEL=2               # runs at once (measured: 2 runs × 1 thread ≈ 1 run × 2 threads in
                         # throughput; two runs also overlap their single-threaded steps)
THREADS=""               # threads per run; default: max(1, 2 / PARALLEL)
VAL_OVERLAP=0            # sliding-window overlap of the validation (inference.overlap): 0 tiles a
                         # 64³ phantom into 8 windows, 2.7× cheaper than 0.5 (measured)
INFER_OVERLAP=0.5        # sliding-window overlap at test time (nnU-Net's)
SETS=()

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "experiment.sh: $*" >&2; exit 1; }
usage_error() { echo "experiment.sh: $*" >&2; usage >&2; exit 64; }
need_value() { [[ $# -ge 2 && -n "$2" ]] || usage_error "$1 needs a value"; }
is_int() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_number() { [[ "$1" =~ ^[0-9]*\.?[0-9]+$ ]]; }

ORIGINAL_COMMAND="scripts/experiment.sh${*:+ $(printf '%q ' "$@")}"
ORIGINAL_COMMAND="${ORIGINAL_COMMAND% }"
BETAS=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) need_value "$@"; OUT="$2"; shift 2 ;;
        --seed) need_value "$@"; SEED="$2"; shift 2 ;;
        --seeds) need_value "$@"; SEEDS="$2"; shift 2 ;;
        --arms) need_value "$@"; ARMS_ARG="$2"; shift 2 ;;
        --betas) need_value "$@"; BETAS="$2"; BETAS_DEFAULT=0; shift 2 ;;
        --dataset) need_value "$@"; DATASET="$2"; USER_DATASET=1; shift 2 ;;
        --bin) need_value "$@"; BIN="$2"; shift 2 ;;
        --train-cases) need_value "$@"; TRAIN_CASES="$2"; shift 2 ;;
        --test-cases) need_value "$@"; TEST_CASES="$2"; shift 2 ;;
        --rare-fraction) need_value "$@"; RARE_FRACTION="$2"; shift 2 ;;
        --test-rare-fraction) need_value "$@"; TEST_RARE_FRACTION="$2"; shift 2 ;;
        --val-fraction) need_value "$@"; VAL_FRACTION="$2"; shift 2 ;;
        --max-epochs) need_value "$@"; MAX_EPOCHS="$2"; shift 2 ;;
        --iterations-per-epoch) need_value "$@"; ITERS_PER_EPOCH="$2"; shift 2 ;;
        --patience) need_value "$@"; PATIENCE="$2"; shift 2 ;;
        --parallel) need_value "$@"; PARALLEL="$2"; shift 2 ;;
        --threads) need_value "$@"; THREADS="$2"; shift 2 ;;
        --infer-overlap) need_value "$@"; INFER_OVERLAP="$2"; shift 2 ;;
        --val-overlap) need_value "$@"; VAL_OVERLAP="$2"; shift 2 ;;
        --set) need_value "$@"; SETS+=("--set" "$2"); shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown option '$1'" ;;
    esac
done
is_int "$SEED" || usage_error "--seed must be an integer ≥ 0, got '$SEED'"
is_int "$SEEDS" && [[ "$SEEDS" -ge 1 ]] || usage_error "--seeds must be an integer ≥ 1, got '$SEEDS'"
is_int "$TRAIN_CASES" && [[ "$TRAIN_CASES" -ge 4 ]] || usage_error "--train-cases must be an integer ≥ 4"
is_int "$TEST_CASES" && [[ "$TEST_CASES" -ge 1 ]] || usage_error "--test-cases must be an integer ≥ 1"
{ is_number "$VAL_FRACTION" && awk -v f="$VAL_FRACTION" 'BEGIN { exit !(f > 0 && f < 1) }'; } \
    || usage_error "--val-fraction must be a number in (0, 1) (the stopping rule needs validation cases), got '$VAL_FRACTION'"
is_int "$MAX_EPOCHS" && [[ "$MAX_EPOCHS" -ge 1 ]] || usage_error "--max-epochs must be an integer ≥ 1"
is_int "$ITERS_PER_EPOCH" && [[ "$ITERS_PER_EPOCH" -ge 1 ]] || usage_error "--iterations-per-epoch must be an integer ≥ 1"
is_int "$PATIENCE" && [[ "$PATIENCE" -ge 1 ]] || usage_error "--patience must be an integer ≥ 1"
is_int "$PARALLEL" && [[ "$PARALLEL" -ge 1 ]] || usage_error "--parallel must be an integer ≥ 1"
[[ -z "$THREADS" ]] || { is_int "$THREADS" && [[ "$THREADS" -ge 1 ]]; } || usage_error "--threads must be an integer ≥ 1"
[[ -n "$THREADS" ]] || THREADS=$(( 2 / PARALLEL > 0 ? 2 / PARALLEL : 1 ))
is_number "$INFER_OVERLAP" || usage_error "--infer-overlap must be a number in [0, 1), got '$INFER_OVERLAP'"
is_number "$VAL_OVERLAP" || usage_error "--val-overlap must be a number in [0, 1), got '$VAL_OVERLAP'"
[[ -z "$DATASET" || -d "$DATASET" ]] || usage_error "--dataset $DATASET: no such folder"

# Arms: phase 1 (independent) and phase 2 (need the best β of the sweep).
IFS=, read -r -a ARMS <<< "$ARMS_ARG"
SWEEP_BETAS=()
for arm in "${ARMS[@]}"; do
    case "$arm" in
        uniform|group_balanced|hardness_is|hardness_patch|hardness_spread) ;;
        hardness_b*) b="${arm#hardness_b}"; is_number "$b" || usage_error "arm '$arm': β must be a number"; SWEEP_BETAS+=("$b") ;;
        *) usage_error "unknown arm '$arm' (uniform, group_balanced, hardness_b<β>, hardness_is, hardness_patch, hardness_spread)" ;;
    esac
done
[[ ${#ARMS[@]} -ge 1 ]] || usage_error "--arms is empty"
if [[ "$BETAS_DEFAULT" == 0 ]]; then
    # --betas replaces the sweep arms of --arms.
    NEW=(); for arm in "${ARMS[@]}"; do [[ "$arm" == hardness_b* ]] || NEW+=("$arm"); done
    SWEEP_BETAS=(); IFS=, read -r -a BL <<< "$BETAS"
    for b in "${BL[@]}"; do is_number "$b" || usage_error "--betas: '$b' is not a number"; SWEEP_BETAS+=("$b"); NEW+=("hardness_b$b"); done
    ARMS=("${NEW[@]}")
fi
PHASE1=(); PHASE2=()
for arm in "${ARMS[@]}"; do
    case "$arm" in hardness_is|hardness_patch|hardness_spread) PHASE2+=("$arm") ;; *) PHASE1+=("$arm") ;; esac
done
NEED_SWEEP=0
for arm in "${PHASE2[@]}"; do [[ "$arm" == hardness_spread ]] || NEED_SWEEP=1; done
if [[ "$NEED_SWEEP" == 1 && ${#SWEEP_BETAS[@]} -eq 0 ]]; then
    usage_error "arms ${PHASE2[*]} use the best β of the sweep: add hardness_b<β> arms or --betas"
fi
if [[ " ${PHASE2[*]} " == *" hardness_spread "* && " ${ARMS[*]} " != *" uniform "* ]]; then
    usage_error "arm hardness_spread calibrates β on the uniform arm's losses: add uniform to --arms"
fi

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIG="$REPO/configs/experiment.cfg"
PYTHON="$(command -v python3 || true)"
[[ -n "$PYTHON" ]] || die "python3 is needed for the β choice and the report (scripts/setup.sh installs numpy and scipy)"
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
log() { echo "[experiment $(date -u +%H:%M:%S) +$(( $(elapsed) / 60 ))m] $*" >&2; }

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

# ---- output folder, and the settings a resumed experiment must share -----------------------------
[[ -n "$OUT" ]] || OUT="$REPO/results/experiment"
mkdir -p "$OUT"/{logs,runs,pred,cases,eval,plots}
OUT="$(cd "$OUT" && pwd)"
SETTINGS="seed=$SEED seeds=$SEEDS arms=${ARMS[*]} dataset=${USER_DATASET:+$(cd "$DATASET" && pwd)} \
train_cases=$TRAIN_CASES test_cases=$TEST_CASES rare=$RARE_FRACTION test_rare=$TEST_RARE_FRACTION \
val_fraction=$VAL_FRACTION max_epochs=$MAX_EPOCHS iterations_per_epoch=$ITERS_PER_EPOCH patience=$PATIENCE \
threads=$THREADS val_overlap=$VAL_OVERLAP infer_overlap=$INFER_OVERLAP sets=${SETS[*]:-}"
if [[ -f "$OUT/settings.txt" ]]; then
    [[ "$(cat "$OUT/settings.txt")" == "$SETTINGS" ]] || die "$OUT was started with other settings:
  then: $(cat "$OUT/settings.txt")
  now:  $SETTINGS
resume with the same options, or choose another --out"
    log "resuming the experiment in $OUT (finished runs are skipped)"
else
    echo "$SETTINGS" > "$OUT/settings.txt"
fi
COMMANDS="$OUT/commands.log"
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
    if [[ ! -f "$OUT/data/complete" ]]; then
        rm -rf "$OUT/data"
        log "generating phantoms: $TRAIN_CASES training cases (rare fraction $RARE_FRACTION), $TEST_CASES test cases (rare fraction $TEST_RARE_FRACTION)"
        run_step make-data "$BIN/dro-train" --make-demo-data "$DATASET" --cases "$TRAIN_CASES" \
            --rare-fraction "$RARE_FRACTION" --seed "$SEED" --test-cases "$TEST_CASES" \
            --test-rare-fraction "$TEST_RARE_FRACTION"
        touch "$OUT/data/complete"
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
echo "case,group" > "$TRAIN_GROUPS.tmp"
while IFS=, read -r id group; do
    id="${id//\"/}"; [[ -n "$id" && "$id" != "case" ]] || continue
    if [[ -n "$(compgen -G "$DATASET/labelsTr/$id.nii*")" ]]; then echo "$id,$group" >> "$TRAIN_GROUPS.tmp"; fi
done < <(tr -d '\r' < "$GROUPS_CSV")
mv "$TRAIN_GROUPS.tmp" "$TRAIN_GROUPS"
N_TRAIN=$(ls "$DATASET/labelsTr" | grep -c '\.nii' || true)
N_TEST=$(ls "$DATASET/labelsTs" | grep -c '\.nii' || true)
[[ "$N_TRAIN" -ge 4 && "$N_TEST" -ge 1 ]] || die "$DATASET: needs ≥ 4 training and ≥ 1 test labels (found $N_TRAIN, $N_TEST)"

COMMON_SETS=(--set "data.dataset=$DATASET" --set "data.groups=$TRAIN_GROUPS" --set "data.val_fraction=$VAL_FRACTION"
             --set "training.threads=$THREADS" --set "training.epochs=$MAX_EPOCHS"
             --set "training.iterations_per_epoch=$ITERS_PER_EPOCH" --set "training.patience=$PATIENCE"
             --set "inference.overlap=$VAL_OVERLAP" "${SETS[@]}")
"$BIN/dro-train" --config "$CONFIG" "${COMMON_SETS[@]}" --print-config > /dev/null 2> "$OUT/logs/config-check.log" \
    || { cat "$OUT/logs/config-check.log" >&2; die "the configuration is invalid (configs/experiment.cfg with the options above)"; }

sampler_sets() {  # arm → --set arguments of its sampler
    local arm="$1"
    case "$arm" in
        uniform) echo "--set sampler.kind=uniform --set sampler.beta=0" ;;
        group_balanced) echo "--set sampler.kind=group_balanced --set sampler.beta=0" ;;
        hardness_b*) echo "--set sampler.kind=hardness --set sampler.beta=${arm#hardness_b} --set sampler.importance_sampling=false" ;;
        hardness_is) echo "--set sampler.kind=hardness --set sampler.beta=$BEST_BETA --set sampler.importance_sampling=true" ;;
        hardness_patch) echo "--set sampler.kind=hardness --set sampler.beta=$BEST_BETA --set sampler.importance_sampling=false --set sampler.unit=patch" ;;
        hardness_spread) echo "--set sampler.kind=hardness --set sampler.beta=$SPREAD_BETA --set sampler.importance_sampling=false" ;;
    esac
}

# One (arm, seed): train (or resume) to the plateau, segment the test set with the best
# checkpoint, score it; runs/<name>/DONE marks it finished.
run_one() {
    local arm="$1" seed="$2" name="$1-seed$2"
    local dir="$OUT/runs/$name"
    local -a sampler
    read -r -a sampler <<< "$(sampler_sets "$arm")"
    local -a train=("$BIN/dro-train" --config "$CONFIG" "${COMMON_SETS[@]}" "${sampler[@]}"
                    --set "training.seed=$seed" --output "$dir" --quiet)
    if [[ -f "$dir/checkpoint_latest.ckpt" ]]; then
        run_step "train-$name" "${train[@]}" --resume
    else
        rm -rf "$dir"
        run_step "train-$name" "${train[@]}"
    fi
    [[ -f "$dir/checkpoint_best.ckpt" ]] || die "$dir/checkpoint_best.ckpt: missing (no validation was run?)"
    run_step "infer-$name" "$BIN/dro-infer" --model "$dir/checkpoint_best.ckpt" --input "$DATASET/imagesTs" \
        --output "$OUT/pred/$name" --threads "$THREADS" --overlap "$INFER_OVERLAP" --overwrite
    run_step "eval-$name" "$BIN/dro-eval" --pred "$OUT/pred/$name" --gt "$DATASET/labelsTs" \
        --dataset-json "$DATASET/dataset.json" --groups "$GROUPS_CSV" \
        --csv "$OUT/cases/$name.csv.tmp" --json "$OUT/eval/$name.json"
    mv "$OUT/cases/$name.csv.tmp" "$OUT/cases/$name.csv"
    for png in "$dir/"*.png; do
        if [[ -e "$png" ]]; then cp "$png" "$OUT/plots/$name-$(basename "$png")"; fi
    done
    touch "$dir/DONE"
}

# Runs the given (arm, seed) jobs, PARALLEL at a time, with progress and an ETA.
TOTAL_RUNS=0; DONE_RUNS=0; SESSION_RUN_SECONDS=0; SESSION_RUNS=0
declare -A JOB_NAME=() JOB_START=()
run_jobs() {
    local -a queue=("$@") running=()
    local job pid status name
    finish_one() {
        local pid="$1" status="$2" name="${JOB_NAME[$1]}"
        local took=$(( $(date +%s) - ${JOB_START[$1]} ))
        unset "JOB_NAME[$pid]"
        printf '%s\n' "${JOB_NAME[@]}" > "$OUT/.running"
        if [[ "$status" -ne 0 ]]; then
            kill_jobs
            die "run $name failed (exit $status); fix the cause and re-run the same command to continue"
        fi
        DONE_RUNS=$(( DONE_RUNS + 1 )); SESSION_RUNS=$(( SESSION_RUNS + 1 ))
        SESSION_RUN_SECONDS=$(( SESSION_RUN_SECONDS + took ))
        local left=$(( TOTAL_RUNS - DONE_RUNS ))
        local eta=$(( SESSION_RUN_SECONDS / SESSION_RUNS * left / PARALLEL ))
        local stop
        stop=$(tail -n 1 "$OUT/runs/$name/train_log.csv" | cut -d, -f1)
        log "[$DONE_RUNS/$TOTAL_RUNS] $name done in $(( took / 60 )) min $(( took % 60 )) s (trained $stop iterations)$(
            [[ $left -gt 0 ]] && echo "; about $(( eta / 60 )) min left for $left run(s)")"
    }
    for job in "${queue[@]}"; do
        local arm="${job% *}" seed="${job#* }"
        name="$arm-seed$seed"
        if [[ -f "$OUT/runs/$name/DONE" && -f "$OUT/cases/$name.csv" ]]; then
            DONE_RUNS=$(( DONE_RUNS + 1 ))
            log "[$DONE_RUNS/$TOTAL_RUNS] $name: finished earlier, skipped"
            continue
        fi
        while [[ ${#JOB_NAME[@]} -ge $PARALLEL ]]; do
            status=0; wait -n -p pid "${!JOB_NAME[@]}" || status=$?
            finish_one "$pid" "$status"
        done
        local how="training"
        [[ -f "$OUT/runs/$name/checkpoint_latest.ckpt" ]] && how="resuming"
        log "$name: $how (cap $MAX_EPOCHS epochs × $ITERS_PER_EPOCH iterations, patience $PATIENCE; log: logs/train-$name.log)"
        run_one "$arm" "$seed" &
        JOB_NAME[$!]="$name"; JOB_START[$!]=$(date +%s)
        printf '%s\n' "${JOB_NAME[@]}" > "$OUT/.running"
    done
    while [[ ${#JOB_NAME[@]} -gt 0 ]]; do
        status=0; wait -n -p pid "${!JOB_NAME[@]}" || status=$?
        finish_one "$pid" "$status"
    done
}
# Every PROGRESS_EVERY seconds, one line per running run: iterations trained of the cap, epoch,
# and the epoch of the lowest validation loss so far (from its logs; runs/.running names them).
PROGRESS_EVERY=${DRO_EXPERIMENT_PROGRESS_SECONDS:-120}
HEARTBEAT=""
heartbeat() {
    # sleep's output is not the terminal's: a sleep left behind when this loop is stopped must
    # not hold a caller's pipe open.
    # It ends with the script ($$ is the script's process id in this subshell too).
    while sleep "$PROGRESS_EVERY" < /dev/null > /dev/null 2>&1 && kill -0 $$ 2>/dev/null; do
        [[ -f "$OUT/.running" ]] || continue
        while read -r name; do
            [[ -n "$name" && -f "$OUT/runs/$name/train_log.csv" ]] || continue
            local row it ep best
            row=$(tail -n 1 "$OUT/runs/$name/train_log.csv"); it="${row%%,*}"; ep=$(cut -d, -f2 <<< "$row")
            is_int "$it" || continue
            best=$(awk -F, 'NR > 1 && !seen[$1 FS $2]++ { s[$1] += $6; n[$1]++ }
                           END { for (e in s) if (b == "" || s[e] / n[e] < v) { b = e; v = s[e] / n[e] }; print b }' \
                   "$OUT/runs/$name/val.csv" 2>/dev/null || true)
            log "  $name: iteration $it of at most $(( MAX_EPOCHS * ITERS_PER_EPOCH )) (epoch $ep)${best:+; lowest validation loss at epoch $best}"
        done < "$OUT/.running"
    done
}

# Stops the running jobs: their trainers first (SIGTERM: they save a checkpoint and exit), then
# the job shells.
kill_jobs() {
    local p
    for p in "${!JOB_NAME[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; done
    for p in "${!JOB_NAME[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    if [[ -n "$HEARTBEAT" ]]; then kill -TERM "$HEARTBEAT" 2>/dev/null || true; fi
    wait 2>/dev/null || true
}
trap 'kill_jobs; echo "experiment.sh: interrupted; re-run the same command to continue" >&2; exit 130' INT TERM

SEED_LIST=$(seq -s, "$SEED" "$((SEED + SEEDS - 1))")
TOTAL_RUNS=$(( ${#ARMS[@]} * SEEDS ))
cat > "$OUT/experiment.txt" <<EOF
command: $ORIGINAL_COMMAND
commit: $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$REPO" && git diff --quiet 2>/dev/null || echo " (with local changes)")
started: $(date -u -d "@$START" '+%Y-%m-%d %H:%M:%S UTC')
dataset: $DATASET ($N_TRAIN training cases, val_fraction $VAL_FRACTION per group; $N_TEST test cases)
arms: ${ARMS[*]}
seeds: $SEED_LIST
stopping: validation after each epoch of $ITERS_PER_EPOCH iterations; stop after $PATIENCE validations without a lower mean validation loss, or at $MAX_EPOCHS epochs; scored: checkpoint_best.ckpt (lowest mean validation loss)
runs: $PARALLEL at once, $THREADS thread(s) each; sliding-window overlap: validation $VAL_OVERLAP, test $INFER_OVERLAP
EOF
log "$TOTAL_RUNS runs (${#ARMS[@]} arms × $SEEDS seeds), $PARALLEL at once with $THREADS thread(s) each; output $OUT"

heartbeat &
HEARTBEAT=$!
trap 'if [[ -n "$HEARTBEAT" ]]; then kill -TERM "$HEARTBEAT" 2>/dev/null || true; fi' EXIT
JOBS=()
for seed in $(seq "$SEED" "$((SEED + SEEDS - 1))"); do for arm in "${PHASE1[@]}"; do JOBS+=("$arm $seed"); done; done
run_jobs "${JOBS[@]}"

BEST_BETA=""; SPREAD_BETA=""
if [[ ${#PHASE2[@]} -gt 0 ]]; then
    if [[ "$NEED_SWEEP" == 1 ]]; then
        SWEEP_ARMS=$(printf 'hardness_b%s,' "${SWEEP_BETAS[@]}"); SWEEP_ARMS="${SWEEP_ARMS%,}"
        BEST_BETA=$("$PYTHON" "$REPO/scripts/experiment/report.py" choose-beta --results "$OUT" --arms "$SWEEP_ARMS" \
                    --seeds "$SEED_LIST" --groups "$TRAIN_GROUPS") || die "could not choose β from the sweep"
        log "best β of the sweep (highest mean worst-group validation Dice at the scored checkpoint): $BEST_BETA (beta_choice.md)"
    fi
    if [[ " ${PHASE2[*]} " == *" hardness_spread "* ]]; then
        SPREAD_BETA=$("$PYTHON" "$REPO/scripts/experiment/report.py" calibrate-beta --results "$OUT" --arms uniform \
                      --seeds "$SEED_LIST" --groups "$TRAIN_GROUPS") || die "could not calibrate β on the uniform runs"
        log "hardness_spread (ours): β = $SPREAD_BETA from the uniform runs' loss spread (beta_spread.md)"
    fi
    JOBS=()
    for seed in $(seq "$SEED" "$((SEED + SEEDS - 1))"); do for arm in "${PHASE2[@]}"; do JOBS+=("$arm $seed"); done; done
    run_jobs "${JOBS[@]}"
fi

kill -TERM "$HEARTBEAT" 2>/dev/null || true
wait "$HEARTBEAT" 2>/dev/null || true
HEARTBEAT=""
rm -f "$OUT/.running"

# ---- report ------------------------------------------------------------------------------------
HEADER="Command: \`$ORIGINAL_COMMAND\` — $N_TRAIN training cases (val_fraction $VAL_FRACTION per group), $N_TEST test cases; every run stops after $PATIENCE validations without a lower validation loss (cap $MAX_EPOCHS × $ITERS_PER_EPOCH iterations) and is scored with its best-validation-loss checkpoint.${BEST_BETA:+ Best β of the sweep: $BEST_BETA.}"
"$PYTHON" "$REPO/scripts/experiment/report.py" table --results "$OUT" --arms "$(IFS=,; echo "${ARMS[*]}")" \
    --seeds "$SEED_LIST" --groups "$TRAIN_GROUPS" --header "$HEADER" ${BEST_BETA:+--best-beta "$BEST_BETA"} \
    ${SPREAD_BETA:+--spread-beta "$SPREAD_BETA"} > /dev/null \
    || die "the report failed (scripts/experiment/report.py)"
log "done in $(( $(elapsed) / 60 )) min $(( $(elapsed) % 60 )) s: $OUT/table.md"
cat "$OUT/table.md"
