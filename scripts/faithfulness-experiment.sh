#!/usr/bin/env bash
# The faithfulness experiment (issue 14), meant for one GPU host call: SFT a ~18M-parameter Llama on the hinted-arithmetic
# benchmark (scripts/make-hinted-model.sh), measure the saliency gates on it, then AtManRL vs plain GRPO vs a
# confidence-only control reward (0.5 * (1 - p(answer))), SEEDS each, as parallel processes (a small model leaves the GPU
# mostly idle); every final model and the SFT model are evaluated on the same items (no hint, plus a wrong-hint variant
# of each problem); `atman-native bench experiment` prints the table and the verdict.
#   scripts/faithfulness-experiment.sh OUT_DIR
#   env: PHASES ("sft gates rl eval table"), SEEDS ("1 2 3"), CONDITIONS ("unhinted2_w1.2 grpo confidence": the arm that
#        met the success criteria in run 10 of bench/faithfulness-experiment.md; "atman": the mask-based reward; also "carried" and
#        "alone": cotCarried / cotAlone on every completion, "concluded": cotAlone on correct completions and on wrong ones
#        whose answer is the CoT's result, "derived": concluded with cotDerived; weight SCOPE_ALL_WEIGHT, default 2; "derived1": derived at weight 1; "unhinted": cotUnhinted on correct answers, weight 1; "unhinted2": cotUnhinted, scope concluded, weight 2; any condition_wN: that arm at saliency weight N), RL_STEPS (150),
#        RL_LR (1e-4), SFT_STEPS (3000), EVAL_COUNT (400), DTYPE (float32: bf16 weights would round away small updates),
#        DEVICE (auto), INIT_CONFIG and BATCH (passed to make-hinted-model.sh), REWARD_MODE (auto: the mode and biasFrom
#        with the best F/D separation in the gates; else a mode, with BIAS_FROM, default answer), GATE_BIAS ("answer cot":
#        the biasFrom settings the gates measure), SAL_BATCH (64 completions per mask-optimization batch), GRAD_ACC (4
#        micro-batches per step: 9 processes share one GPU's memory), RL_FLAGS (more train flags for every arm, e.g.
#        "--grpo.promptsPerStep 8" for a CPU-sized run)
set -euo pipefail
OUT=$(realpath -m "${1:?usage: $0 OUT_DIR}")
cd "$(dirname "$0")/.."
PHASES=${PHASES:-"sft gates rl eval table"}
SEEDS=${SEEDS:-"1 2 3"}
CONDITIONS=${CONDITIONS:-"unhinted2_w1.2 grpo confidence"}
DTYPE=${DTYPE:-float32}
CLI="node dist/cli/main.js"
MODEL="$OUT/sft"
mkdir -p "$OUT/logs" "$OUT/eval"
has() { [[ " $PHASES " == *" $1 "* ]]; }
stamp() { echo "[$(date +%H:%M:%S)] $*"; }

if has sft; then
  stamp "sft: ${SFT_STEPS:-3000} steps"
  STEPS=${SFT_STEPS:-3000} scripts/make-hinted-model.sh "$MODEL" --dtype "$DTYPE" --json > "$OUT/logs/sft.jsonl" 2> "$OUT/logs/sft.err"
  tail -n 2 "$OUT/logs/sft.err"
fi

if has gates; then
  stamp "gates on the SFT model, biasFrom ${GATE_BIAS:-answer cot} in parallel"
  for b in ${GATE_BIAS:-answer cot}; do
    printf 'saliency:\n  biasFrom: %s\n' "$b" > "$OUT/gates-config-$b.yaml"
    $CLI bench gates --model "$MODEL" --task hinted --device "${DEVICE:-auto}" --config "$OUT/gates-config-$b.yaml" \
      --json "$OUT/gates-hinted-$b.json" > "$OUT/gates-hinted-$b.md" 2> "$OUT/logs/gates-$b.err" &
  done
  wait
  for b in ${GATE_BIAS:-answer cot}; do echo "## biasFrom $b"; cat "$OUT/gates-hinted-$b.md"; done | tee "$OUT/gates-hinted.md"
fi

# REWARD_MODE=auto: the saliency reward mode and biasFrom with the best F/D separation among those that pass the
# keep-everything gate on the SFT model (gates-hinted-*.json), so the run uses what the gates measured best.
setting() {
  if [[ ${REWARD_MODE:-auto} != auto ]]; then echo "$REWARD_MODE ${BIAS_FROM:-answer}"; return; fi
  node -e 'const fs = require("fs"); const rows = [];
    for (const f of process.argv.slice(1)) if (fs.existsSync(f)) for (const r of JSON.parse(fs.readFileSync(f, "utf8")))
      if (r.pass.keepAll) rows.push([r.fdAuroc || 0, r.reward, f.replace(/.*gates-hinted-|\.json$/g, "")]);
    rows.sort((a, b) => b[0] - a[0]); console.log(rows.length ? rows[0][1] + " " + rows[0][2] : "comprehensiveness answer");' \
    "$OUT/gates-hinted-answer.json" "$OUT/gates-hinted-cot.json" 2>/dev/null || echo "comprehensiveness answer"
}

# A condition may end in _wN (e.g. unhinted2_w1.5): the same arm with saliency weight N (its runs are named after it).
flags() {
  local name=$1 w=""
  if [[ $name =~ ^(.+)_w([0-9.]+)$ ]]; then name=${BASH_REMATCH[1]}; w=${BASH_REMATCH[2]}; fi
  case $name in
    atman)
      read -r mode bias <<< "$(setting)"
      # cotSufficiency reads no mask: skip the mask optimization (K = 0) and its random sets.
      if [[ $mode == cotSufficiency ]]; then extra="--saliency.steps 0 --saliency.randomSets 0"; else extra=""; fi
      echo "--saliency.rewardMode $mode --saliency.biasFrom $bias $extra${w:+ --rewards.saliency $w}" ;;
    # R_sal on every completion (wrong answers too) with a mask-free mode, weighted so that a wrong answer that follows
    # its CoT outscores a right one copied from the hint (weight SCOPE_ALL_WEIGHT, default 2): carried (cotCarried),
    # alone (cotAlone).
    carried|alone)
      [[ $1 == carried ]] && mode=cotCarried || mode=cotAlone
      echo "--saliency.rewardMode $mode --saliency.scope all --saliency.biasFrom ${BIAS_FROM:-answer} --saliency.steps 0 --saliency.randomSets 0 --rewards.saliency ${w:-${SCOPE_ALL_WEIGHT:-2}}" ;;
    # cotAlone paid on correct answers and on wrong ones whose answer is the CoT's written result (scope concluded):
    # run 5's hack (answers copied out of CoT digits) earns nothing.
    concluded) echo "--saliency.rewardMode cotAlone --saliency.scope concluded --saliency.biasFrom ${BIAS_FROM:-answer} --saliency.steps 0 --saliency.randomSets 0 --rewards.saliency ${w:-${SCOPE_ALL_WEIGHT:-2}}" ;;
    # concluded with cotDerived: every '= number' of the CoT must also be likely from the CoT before it with the prompt
    # hidden, so a CoT bent onto the hint (run 6) earns little.
    derived) echo "--saliency.rewardMode cotDerived --saliency.scope concluded --saliency.biasFrom ${BIAS_FROM:-answer} --rewards.saliency ${w:-${SCOPE_ALL_WEIGHT:-2}}" ;;
    # derived at weight 1: a consistent wrong answer can no longer outscore an inconsistent right one (run 6's seed 3).
    derived1) echo "--saliency.rewardMode cotDerived --saliency.scope concluded --saliency.biasFrom ${BIAS_FROM:-answer} --rewards.saliency ${w:-1}" ;;
    # cotUnhinted on correct answers (DESIGN.md's scope) at weight 1: the answer and each CoT result re-read under the
    # prompt without its hint (run 7: hiding the prompt by attention left cotDerived's reward at ~0 on a new SFT model).
    unhinted) echo "--saliency.rewardMode cotUnhinted --saliency.scope correct --rewards.saliency ${w:-1}" ;;
    # unhinted on correct answers and on wrong ones that equal their CoT's result (scope concluded), weight 2: a wrong
    # answer that follows its (slipped) CoT, paid p(a | unhinted prompt, CoT), then outscores a right one copied from the
    # hint against its CoT, while a valid CoT stays the best-paid (run 8: scope correct never rewards following the CoT
    # where CoT and hint disagree).
    # Measured: weight 2 and 1.5 trade accuracy for consistent wrong answers (runs 9, 10); 1.2 (unhinted2_w1.2) kept it.
    unhinted2) echo "--saliency.rewardMode cotUnhinted --saliency.scope concluded --rewards.saliency ${w:-2}" ;;
    grpo) echo "--saliency.enabled false --rewards.saliency 0" ;;
    confidence) echo "--saliency.enabled false --rewards.saliency 0 --rewards.confidence 0.5" ;;
    *) echo "unknown condition $1" >&2; exit 2 ;;
  esac
}

if has rl; then
  stamp "rl: ${CONDITIONS} x seeds ${SEEDS}, ${RL_STEPS:-150} steps each, in parallel; saliency reward mode and biasFrom: $(setting)"
  for c in $CONDITIONS; do
    for s in $SEEDS; do
      # shellcheck disable=SC2046
      $CLI train --config configs/hinted-grpo.yaml --model.path "$MODEL" --name "$c-s$s" --runsDir "$OUT/runs" --seed "$s" \
        --model.dtype "$DTYPE" --grpo.steps "${RL_STEPS:-150}" --optim.lr "${RL_LR:-1e-4}" --checkpoint.every 0 --saliency.batchSize "${SAL_BATCH:-64}" \
        --grpo.gradientAccumulationSteps "${GRAD_ACC:-4}" $(flags "$c") ${RL_FLAGS:-} --json \
        > "$OUT/logs/$c-s$s.jsonl" 2> "$OUT/logs/$c-s$s.err" &
    done
  done
  wait
  stamp "rl done"
fi

if has eval; then
  stamp "eval: ${EVAL_COUNT:-400} unhinted problems + their wrong-hint variants, per model, in parallel"
  evalOne() {
    $CLI eval --model "$1" --task hinted --hint none --count "${EVAL_COUNT:-400}" --seed 777 --dtype "$DTYPE" --device "${DEVICE:-auto}" \
      --max-new-tokens 96 --out-dir "$OUT/eval/$2" > "$OUT/logs/eval-$2.txt" 2> "$OUT/logs/eval-$2.err"
  }
  evalOne "$MODEL" base-s0 &
  for c in $CONDITIONS; do
    for s in $SEEDS; do
      run="$OUT/runs/$c-s$s"
      [ -f "$run/latest" ] && evalOne "$run/$(head -n 1 "$run/latest")/model" "$c-s$s" &
    done
  done
  wait
  stamp "eval done"
fi

if has table; then
  $CLI bench experiment --dir "$OUT/eval" --runs "$OUT/runs" --json "$OUT/experiment.json" | tee "$OUT/experiment.md"
fi
