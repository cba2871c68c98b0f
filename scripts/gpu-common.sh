# Shared start of the GPU-host scripts (sourced by gpu-llama.sh and gpu-atman.sh): output dir, model paths, the
# device line, a time budget with step()/left() helpers, and the build (SKIP_BUILD=1 reuses dist/ and build/).
OUT=${OUT:-$PWD/gpu-out}
MODEL_DIR=${MODEL_DIR:-/tmp/llama3b-random}
CONFIG=${CONFIG:-.gpu/shared/models/llama-3.2-3b-instruct/config.json}
mkdir -p "$OUT"
source .gpu/env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device.txt"
T0=$(date +%s)
BUDGET=${BUDGET:-540}   # seconds for the whole script: each step's timeout is cut to what is left
step() { echo; echo "=== $* ($(( $(date +%s) - T0 ))s) ==="; }
left() { local l=$(( BUDGET - ($(date +%s) - T0) )); (( l < $1 )) && echo $(( l > 5 ? l : 5 )) || echo "$1"; }

step build
if [[ ${SKIP_BUILD:-0} == 1 ]]; then :
elif ! ATMAN_FORCE_BUILD=1 timeout $(left 300) node scripts/install.js > "$OUT/build.log" 2>&1; then
  tail -60 "$OUT/build.log"; tail -80 build/install.log; exit 1
fi
grep -m1 "atman-native: libtorch" build/install.log
[[ ${SKIP_BUILD:-0} == 1 ]] || node ./node_modules/typescript/bin/tsc -p tsconfig.json || exit 1
