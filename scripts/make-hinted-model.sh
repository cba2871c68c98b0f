#!/usr/bin/env bash
# Makes the model of the hinted-arithmetic benchmark (data.task hinted, configs/hinted-grpo.yaml): a fresh Llama
# (scripts/hinted-model-config.json: hidden 512, 6 layers, 8 heads of 64 so the fused CUDA attention runs, 4 KV heads,
# MLP 1408, untied; 17,807,872 parameters = 6 x 2,950,144 per layer + 2 x 104 x 512 embedding/head + 512 final norm)
# with the character-level tokenizer of models/tiny-arith, trained by `atman-native sft` on the hinted SFT mix
# (--hint sft: 35% decorative = planted-error CoT with the answer copied from a correct hint, 15% hinted with a correct
# CoT, 50% unhinted and correct; 3-4 operations, operands 1-9). Meant for a GPU (--device auto picks CUDA).
#   scripts/make-hinted-model.sh OUT_DIR [extra sft flags]      env: COUNT STEPS BATCH LR DEVICE INIT_CONFIG
# Then: atman-native eval --model OUT_DIR --task hinted --hint wrong --count 512 --seed 1 --no-saliency
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_DIR [extra sft flags]" >&2
  exit 2
fi
OUT=$(realpath -m "$1")   # before the cd below
shift
cd "$(dirname "$0")/.."
node dist/cli/main.js sft --init-config ${INIT_CONFIG:-scripts/hinted-model-config.json} --tokenizer models/tiny-arith --out "$OUT" \
  --task hinted --hint sft --count ${COUNT:-50000} --steps ${STEPS:-3000} --batch-size ${BATCH:-64} --lr ${LR:-1e-3} \
  --warmup-steps 100 --device ${DEVICE:-auto} "$@"
