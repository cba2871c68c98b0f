#!/usr/bin/env bash
# GPU host: the faithfulness experiment (scripts/faithfulness-experiment.sh) inside one device call, each phase under a
# time limit (RL gets SIGINT at its limit: the trainer finishes the step and checkpoints), results packed into
# $OUT/faithfulness.tgz (the models stay behind: too big to come back). Uses the CUDA prebuild (no compile).
#   env: as faithfulness-experiment.sh, plus T_SFT T_GATES T_RL T_EVAL (seconds; 0 skips that phase, so a run can be
#   split over two device calls on a warm machine: SFT first, then RL and eval with the same WORK) and WORK (/tmp/fe)
set -uo pipefail
source .gpu/env.sh
# Many trainers share one GPU: expandable segments keep each caching allocator near its peak instead of fragmenting
# (9 processes on an 80 GB H100 ran out of memory without it).
export PYTORCH_CUDA_ALLOC_CONF=${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}
OUT=${OUT:-$PWD/gpu-out}; WORK=${WORK:-/tmp/fe}; mkdir -p "$OUT" "$WORK"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$WORK/device.txt"
node dist/cli/main.js doctor 2>&1 | grep -i -m3 "prebuild\|cuda" || true
X=scripts/faithfulness-experiment.sh
[ "${T_SFT:-240}" -gt 0 ] && PHASES=sft timeout "${T_SFT:-240}" $X "$WORK"
[ "${T_GATES:-120}" -gt 0 ] && PHASES=gates timeout "${T_GATES:-120}" $X "$WORK"
if [ "${T_RL:-240}" -gt 0 ]; then
  PHASES=rl timeout -s INT -k 60 "${T_RL:-240}" $X "$WORK"
  # SIGINT ends the script at once but each trainer first finishes its step and writes its checkpoint: wait for them.
  for _ in $(seq 90); do pgrep -f 'main.js train' > /dev/null || break; sleep 1; done
fi
[ "${T_EVAL:-120}" -gt 0 ] && PHASES="eval table" timeout "${T_EVAL:-120}" $X "$WORK"
for f in "$WORK"/logs/*.jsonl; do tail -n 1 "$f" | cut -c1-600 > "$f.last"; done
tar -C "$WORK" -czf "$OUT/faithfulness.tgz" --exclude='*/model' --exclude='runs/*/checkpoints' device.txt logs eval gates-hinted.md gates-hinted-answer.json gates-hinted-cot.json gates-hinted-answer.md gates-hinted-cot.md experiment.md experiment.json runs 2>/dev/null
ls -la "$OUT"
