#!/usr/bin/env bash
# Data-parallel GRPO on the GPU host (issue 17): the same global batch on 1 GPU and on N GPUs (default 2), started by
# our launcher (with and without overlapping the all-reduce with backward) and, when torchrun is on PATH, by
# torchrun; then a table of step time, throughput and all-reduce time
# per step (bench/distributed-table.js). Needs a CUDA build (NCCL) and the model directory.
#   bench/distributed.sh MODEL_DIR [GPUS] [STEPS]        e.g. bench/distributed.sh models/Llama-3.2-3B-Instruct 2 6
# Shape: configs/llama-3.2-3b-gsm8k.yaml's (8 prompts x G=8, 512 new tokens) on generated arithmetic, so no dataset
# is needed. NCCL_NVLS_ENABLE is passed through as set (export NCCL_NVLS_ENABLE=0 where NVLink multicast is off).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: bench/distributed.sh MODEL_DIR [GPUS] [STEPS]}
gpus=${2:-2}
steps=${3:-6}
runs=${RUNS_DIR:-/tmp/atman-dist-bench}
rm -rf "$runs"
common=(--config llama-3.2-3b-gsm8k --model "$model" --task synthetic --device cuda --json --runsDir "$runs"
  --grpo.steps "$steps" --checkpoint.every 0 --logging.reportEvery 0 --logging.completionsEvery 0)

node dist/cli/main.js train "${common[@]}" --name gpu1 > /dev/null
node dist/cli/main.js train "${common[@]}" --name "launcher-gpu$gpus" --nproc-per-node "$gpus" > /dev/null
# The same without the overlap: time/all_reduce is then the whole gradient all-reduce, not only what backward did not hide.
ATMAN_DIST_OVERLAP=0 node dist/cli/main.js train "${common[@]}" --name "no-overlap-gpu$gpus" --nproc-per-node "$gpus" > /dev/null
names=(gpu1 "launcher-gpu$gpus" "no-overlap-gpu$gpus")
if command -v torchrun > /dev/null; then
  torchrun --no-python --standalone --nproc-per-node "$gpus" node dist/cli/main.js train "${common[@]}" --name "torchrun-gpu$gpus" > /dev/null
  names+=("torchrun-gpu$gpus")
fi
node bench/distributed-table.js "$runs" "${names[@]}"
