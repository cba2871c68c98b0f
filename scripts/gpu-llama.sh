#!/usr/bin/env bash
# The Llama checks of the GPU host in one call: build, GPU tests, 3B-config parity with transformers, llama bench.
# There: run with carry [".gpu"]:  bash scripts/gpu-llama.sh      (needs .gpu/shared/models/llama-3.2-3b-instruct/config.json)
# Logs and results go to $OUT (or ./gpu-out). The random-weight 3B model is written to $MODEL_DIR (default
# /tmp/llama3b-random, 6.4 GB). SKIP_TESTS=1, SKIP_PARITY=1, SKIP_BENCH=1, SKIP_COMPILE_PEER=1, SKIP_JS_BENCH=1, SKIP_EAGER_PEER=1
# COMPILE_PEER_MODE=compile64 (only the batch-64 generate case of the compile peer)
# leave parts out; SKIP_BUILD=1 reuses dist/ and build/.
set -uo pipefail
source scripts/gpu-common.sh

if [[ ${SKIP_TESTS:-0} != 1 ]]; then
  step "GPU tests"
  timeout $(left 150) node --expose-gc ./node_modules/jest/bin/jest.js -c jest.gpu.config.js 2>&1 | tee "$OUT/gpu-tests.log" \
    | grep -E "✓|✕|Tests:|Suites:|●|skipped" | head -120
fi

if [[ ${SKIP_PARITY:-0} != 1 ]]; then
  step "3B-config parity: transformers (bf16, sdpa) reference"
  PYTHONUNBUFFERED=1 timeout $(left 200) python3 scripts/llama3b_parity.py "$MODEL_DIR" "$OUT/llama3b-ref.json" "$CONFIG" 2>&1 \
    | grep -v Warning | tail -20 | tee "$OUT/parity-py.log"
  step "3B-config parity: LlamaModel (bf16, CUDA)"
  timeout $(left 120) node dist/bench/llama-parity.js "$MODEL_DIR" "$OUT/llama3b-ref.json" "$OUT/llama3b-ours.json" 2>&1 \
    | tee "$OUT/parity-js.md"
  rm -f "$OUT/llama3b-ref.json"   # 5 MB, and the device tool returns few files: the tables above are the record
fi

if [[ ${SKIP_BENCH:-0} != 1 ]]; then
  if [[ ! -f $MODEL_DIR/config.json ]]; then
    step "making the random 3B model"
    PYTHONUNBUFFERED=1 timeout $(left 200) python3 scripts/llama3b_parity.py "$MODEL_DIR" "$OUT/llama3b-ref.json" "$CONFIG" 2>&1 | tail -3
  fi
  step "bench llama: atman-native"
  [[ ${SKIP_JS_BENCH:-0} == 1 ]] || timeout $(left 200) node dist/cli/main.js bench llama --model "$MODEL_DIR" --device cuda --json "$OUT/llama-js.json" 2>&1 \
    | tee "$OUT/bench-llama.md"
  step "bench llama: transformers eager"
  [[ ${SKIP_EAGER_PEER:-0} == 1 ]] || PYTHONUNBUFFERED=1 timeout $(left 200) python3 bench/llama.py "$MODEL_DIR" "$OUT/llama-py-eager.json" eager 2>&1 \
    | grep -v -i warn | tee -a "$OUT/bench-llama.md" | tail -12
  if [[ ${SKIP_COMPILE_PEER:-0} != 1 ]]; then
    step "bench llama: transformers static cache + torch.compile"
    PYTHONUNBUFFERED=1 timeout $(left ${COMPILE_TIMEOUT:-240}) python3 bench/llama.py "$MODEL_DIR" "$OUT/llama-py-compile.json" "${COMPILE_PEER_MODE:-compile}" 2>&1 \
      | grep -v -i warn | tee -a "$OUT/bench-llama.md" | tail -12
  fi
fi
step done
