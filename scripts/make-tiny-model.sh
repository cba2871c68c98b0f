#!/usr/bin/env bash
# Rebuilds the bundled tiny model (models/tiny-arith): a fresh Llama (scripts/tiny-model-config.json, seed 0) trained by
# `atman-native sft` on generated arithmetic (1-2 operations, operands 1-9) with the character-level tokenizer of
# models/tiny-arith (scripts/make-tiny-tokenizer.js). CPU, deterministic for a given libtorch build; ~8 minutes on
# 2 cores. Result: ~30% greedy accuracy on fresh problems
# (`atman-native eval --model models/tiny-arith --task synthetic --count 128 --seed 1 --no-saliency`).
set -euo pipefail
cd "$(dirname "$0")/.."
node dist/cli/main.js sft --init-config scripts/tiny-model-config.json --tokenizer models/tiny-arith --out models/tiny-arith \
  --task synthetic --count 20000 --min-ops 1 --max-ops 2 --max-value 9 --seed 0 \
  --steps ${STEPS:-1000} --batch-size 16 --lr 3e-3 --warmup-steps 50 --device cpu "$@"
