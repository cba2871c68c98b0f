#!/usr/bin/env bash
# The AtMan saliency (and GRPO) benches of the GPU host in one call: build, the random 3B model if missing, then
# `bench saliency` against scripts/saliency_peer.py and, unless SKIP_GRPO=1, `bench grpo` against scripts/grpo_peer.py.
# There: run with carry [".gpu"]:  bash scripts/gpu-atman.sh      (needs .gpu/shared/models/llama-3.2-3b-instruct/config.json)
# Logs and results go to $OUT (or ./gpu-out). The random-weight 3B model is written to $MODEL_DIR (default
# /tmp/llama3b-random, 6.4 GB); both sides load it, so they share the exact weights.
# SKIP_BUILD=1 reuses dist/ and build/; SKIP_JS=1, SKIP_PEER=1 leave out one side; SKIP_SALIENCY=1, SKIP_GRPO=1 one part.
set -uo pipefail
source scripts/gpu-common.sh

if [[ ! -f $MODEL_DIR/config.json ]]; then
  step "making the random 3B model"
  PYTHONUNBUFFERED=1 timeout $(left 200) python3 scripts/llama3b_parity.py "$MODEL_DIR" "$OUT/llama3b-ref.json" "$CONFIG" 2>&1 | tail -3
  rm -f "$OUT/llama3b-ref.json"   # only the model is wanted here
fi
[[ -f $MODEL_DIR/config.json ]] || { echo "no model in $MODEL_DIR: cannot bench"; exit 1; }

if [[ ${SKIP_SALIENCY:-0} != 1 ]]; then  # (body not indented: it holds a heredoc)
step "bench saliency: atman-native"
[[ ${SKIP_JS:-0} == 1 ]] || timeout $(left 150) node dist/cli/main.js bench saliency --model "$MODEL_DIR" --device cuda \
  --json "$OUT/saliency-js.json" 2>"$OUT/saliency-js.err" | tee "$OUT/bench-saliency.md"
[[ -s $OUT/saliency-js.err ]] && tail -5 "$OUT/saliency-js.err"

step "bench saliency: transformers peer"
[[ ${SKIP_PEER:-0} == 1 ]] || PYTHONUNBUFFERED=1 timeout $(left 180) python3 scripts/saliency_peer.py --model "$MODEL_DIR" \
  --batch 8 --seq 512 --steps 30 --completions 64 --out "$OUT/saliency-peer.json" 2>"$OUT/saliency-peer.err" >/dev/null
[[ -f $OUT/saliency-peer.json ]] && python3 - "$OUT/saliency-peer.json" <<'EOF' | tee -a "$OUT/bench-saliency.md"
import json, sys
r = json.load(open(sys.argv[1]))
f = lambda k, d=1: "-" if r.get(k) is None else f"{r[k]:.{d}f}"
print(f"\n| transformers ({r.get('attn')}) | mask step | {f('mask_step_ms')} ms | {f('mask_step_peak_gib', 2)} |")
print(f"| transformers ({r.get('attn')}) | training step | {f('train_step_ms')} ms | {f('train_step_peak_gib', 2)} |")
print(f"| transformers ({r.get('attn')}) | full optimization | {f('full_optimization_s', 2)} s | {f('full_optimization_peak_gib', 2)} |")
print(f"\nsdpa_error: {r.get('sdpa_error')}; stats: {json.dumps((r.get('full_optimization') or {}).get('stats'))}")
EOF
[[ -f $OUT/saliency-peer.json ]] || tail -5 "$OUT/saliency-peer.err"
fi

if [[ ${SKIP_GRPO:-0} != 1 ]]; then
  step "bench grpo: atman-native"
  [[ ${SKIP_JS:-0} == 1 ]] || timeout $(left 150) node dist/cli/main.js bench grpo --model "$MODEL_DIR" --device cuda --iters ${GRPO_STEPS:-3} \
    --json "$OUT/grpo-js.json" 2>"$OUT/grpo-js.err" | tee "$OUT/bench-grpo.md"
  [[ -s $OUT/grpo-js.err ]] && tail -5 "$OUT/grpo-js.err"
  step "bench grpo: transformers peer"
  [[ ${SKIP_PEER:-0} == 1 ]] || PYTHONUNBUFFERED=1 timeout $(left 180) python3 scripts/grpo_peer.py --model "$MODEL_DIR" --steps ${GRPO_STEPS:-3} \
    --out "$OUT/grpo-peer.json" 2>"$OUT/grpo-peer.err" >/dev/null
  [[ -f $OUT/grpo-peer.json ]] && python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({k: r.get(k) for k in ('device','attn','median_step_ms','tokens_per_s','peak_gib','oom')}))" "$OUT/grpo-peer.json"
  [[ -f $OUT/grpo-peer.json ]] || tail -5 "$OUT/grpo-peer.err"
fi
step done
