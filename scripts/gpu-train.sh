#!/usr/bin/env bash
# The product's commands on CUDA (GPU host), end to end: sft, eval and train on the bundled tiny model, then a few
# GRPO steps of the paper's config (configs/llama-3.2-3b-gsm8k.yaml) on the random-weight 3B model and GSM8K.
# There: run with carry [".gpu"] (needs .gpu/shared/models/llama-3.2-3b-instruct/*.json and .gpu/shared/data/gsm8k/
# train.jsonl), after gpu-atman.sh made $MODEL_DIR, or alone (SKIP_BUILD=1 reuses the build). Output in $OUT.
set -uo pipefail
source scripts/gpu-common.sh
CLI="node dist/cli/main.js"
RUNS=$OUT/runs

step "sft on cuda (tiny model, 30 steps)"
timeout $(left 120) $CLI sft --model models/tiny-arith --out /tmp/tiny-sft --steps 30 --batch-size 16 --device cuda --json | tail -2

step "eval on cuda (tiny model)"
timeout $(left 120) $CLI eval --model models/tiny-arith --task synthetic --count 32 --seed 1 --device cuda --json | tail -3

step "train on cuda (bundled config, 3 steps)"
timeout $(left 150) $CLI train --device cuda --name tiny-cuda --runsDir "$RUNS" --grpo.steps 3 --json | tail -3
ls "$RUNS/tiny-cuda" "$RUNS/tiny-cuda/checkpoints"

if [[ -f $MODEL_DIR/config.json ]]; then
  step "train on cuda: llama-3.2-3b-gsm8k.yaml, random 3B, 2 steps"
  cp .gpu/shared/models/llama-3.2-3b-instruct/tokenizer*.json "$MODEL_DIR/" 2>/dev/null
  timeout $(left 300) $CLI train --config configs/llama-3.2-3b-gsm8k.yaml --model "$MODEL_DIR" --device cuda --name llama3b \
    --runsDir "$RUNS" --data.path .gpu/shared/data/gsm8k/train.jsonl --grpo.steps 2 --generation.maxNewTokens 256 \
    --checkpoint.every 1000 --json | tail -3
  rm -rf "$RUNS/llama3b/checkpoints"   # 6 GB each: only the metrics come back
fi
step done
