#!/usr/bin/env bash
# Everything the GPU host checks, in one call (device time is scarce):
#   build against the host's CUDA libtorch, CPU + GPU test suites, fixtures, benchmarks.
# Here:  npm ci && npx tsc && bash ../shared/device/stage.sh --modules
# There: run with carry [".gpu"]:  bash scripts/gpu-check.sh
# Logs and results go to $OUT (or ./gpu-out when run by hand).
# SKIP_CPU_TESTS=1, SKIP_OVERHEAD_BENCH=1, SKIP_ATTENTION_BENCH=1 leave parts out when device time is short;
# SKIP_BUILD=1 reuses build/ (e.g. right after scripts/gpu-prebuild.sh in the same call).
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
source .gpu/env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device.txt"

step() { echo; echo "=== $* ==="; }

step build
t0=$(date +%s)
if [[ ${SKIP_BUILD:-0} == 1 ]]; then echo "build/ reused (SKIP_BUILD=1)"
elif ! ATMAN_FORCE_BUILD=1 node scripts/install.js > "$OUT/build.log" 2>&1; then
  tail -60 "$OUT/build.log"; tail -80 build/install.log; exit 1
fi
echo "native build $(( $(date +%s) - t0 ))s"; grep -m1 "atman-native: libtorch" build/install.log
node ./node_modules/typescript/bin/tsc -p tsconfig.json || exit 1
node dist/cli/main.js doctor | tee "$OUT/doctor.txt"

step fixtures
for s in scripts/make_*_fixture.py scripts/make_*_fixtures.py; do [[ -f $s ]] && PYTHONUNBUFFERED=1 python3 "$s" "$OUT/fixtures" 2>&1 | tail -8; done
# Fresh fixtures replace the committed ones in this working tree before the GPU suite (lora_parity reads them here;
# family_parity runs in the CPU suite step). fixtures.tgz brings every fixture back to commit.
for f in qwen2 qwen3 mistral lora; do [[ -d $OUT/fixtures/$f ]] && mkdir -p test/fixtures/$f && cp -r "$OUT/fixtures/$f/." test/fixtures/$f/; done
[[ -d $OUT/fixtures ]] && (cd "$OUT" && tar czf fixtures.tgz fixtures && rm -rf fixtures)

step "GPU tests"
ATMAN_LORA_OURS="$OUT/lora-ours" node --expose-gc ./node_modules/jest/bin/jest.js -c jest.gpu.config.js 2>&1 | tee "$OUT/gpu-tests.log" | grep -E "✓|✕|Tests:|Suites:|●" | head -120

step "PEFT loads an adapter trained here (test/gpu/lora_parity.test.ts wrote it)"
[[ -d $OUT/lora-ours ]] && python3 scripts/make_peft_fixture.py --check-ours "$OUT/lora-ours" 2>&1 | tail -5

step "CPU tests on the CUDA build (libtorch 2.x)"
[[ ${SKIP_CPU_TESTS:-0} == 1 ]] || node --expose-gc ./node_modules/jest/bin/jest.js 2>&1 | tee "$OUT/cpu-tests.log" | grep -E "✕|Tests:|Suites:|●" | head -60

step "bench overhead"
[[ ${SKIP_OVERHEAD_BENCH:-0} == 1 ]] || {
  for dev in cuda cpu; do
    node dist/cli/main.js bench overhead --device $dev --iters 20000 --json "$OUT/overhead-js-$dev.json"
    python3 bench/overhead.py $dev 20000 "$OUT/overhead-py-$dev.json"
  done
} 2>&1 | tee "$OUT/bench-overhead.md"

step "bench attention (ours, then the PyTorch peers)"
if [[ ${SKIP_ATTENTION_BENCH:-0} != 1 ]]; then
  timeout 200 node dist/cli/main.js bench attention --device cuda --json "$OUT/attention-js.json" 2>&1 | tee "$OUT/bench-attention.md"
  PYTHONUNBUFFERED=1 timeout 270 python3 bench/attention.py 20 "$OUT/attention-py.json" 2>&1 | tee -a "$OUT/bench-attention.md" | tail -40
fi
