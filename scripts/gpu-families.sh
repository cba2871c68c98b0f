#!/usr/bin/env bash
# GPU host: the model-family benchmark of issue 16. Random-weight Qwen2.5-3B- and Qwen3-4B-shaped models
# (bench/configs/, written by scripts/make_random_model.py), then `bench llama` (generate at batch 1 and 64, training
# forward+backward) against transformers sdpa eager (bench/llama.py) on each, as gpu-llama.sh does for Llama.
#   bash scripts/gpu-families.sh        (carry .gpu and dist; SKIP_BUILD=1 is the default here: uses the prebuild)
#   env: FAMILY_CONFIGS (default: both configs), BUDGET (seconds), OUT
# Results: $OUT/families-bench.md (tables) and $OUT/families-bench.tgz (the JSON of every case).
set -uo pipefail
SKIP_BUILD=${SKIP_BUILD:-1} source scripts/gpu-common.sh
WORK=$(mktemp -d)
for cfg in ${FAMILY_CONFIGS:-bench/configs/qwen2.5-3b.json bench/configs/qwen3-4b.json}; do
  name=$(basename "$cfg" .json); dir=/tmp/random-$name
  step "$name: random model"
  [[ -f $dir/config.json ]] || PYTHONUNBUFFERED=1 timeout $(left 150) python3 scripts/make_random_model.py "$cfg" "$dir" 2>&1 | grep -v -i warn | tail -3
  step "$name: bench llama (atman-native)"
  echo "## $name" >> "$OUT/families-bench.md"
  timeout $(left 200) node dist/cli/main.js bench llama --model "$dir" --device cuda --json "$WORK/$name-js.json" 2>&1 | tee -a "$OUT/families-bench.md"
  step "$name: transformers sdpa eager"
  PYTHONUNBUFFERED=1 timeout $(left 200) python3 bench/llama.py "$dir" "$WORK/$name-py-eager.json" eager 2>&1 \
    | grep -v -i warn | tee -a "$OUT/families-bench.md" | tail -8
done
tar -C "$WORK" -czf "$OUT/families-bench.tgz" .
step done
