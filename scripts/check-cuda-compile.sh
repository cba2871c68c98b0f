#!/usr/bin/env bash
# Compile-checks the CUDA side of native/ on a machine without a CUDA libtorch (a CPU dev box with nvcc): every .cu
# file through nvcc (the kernels have no ATen dependency), and the C++ files' ATMAN_WITH_CUDA branches through
# g++ -fsyntax-only against the installed libtorch headers, with stand-in headers for the CUDA libraries libtorch's
# CUDA headers include (cuBLAS, cuSPARSE, cuSOLVER) and for c10's generated cuda_cmake_macros.h. Nothing is linked or
# run: the GPU host's build (scripts/gpu-check.sh) remains the real check.
# Usage: bash scripts/check-cuda-compile.sh [files...]   (default: every .cu and every .cpp with ATMAN_WITH_CUDA)
# ARCHS="80 90a" by default, as CMakeLists.txt; TORCH_INCLUDE=/usr/include; CUDA_HOME=/usr/local/cuda.
# NCCL_INCLUDE_DIR=DIR (a folder with nccl.h, e.g. unzipped from pip's nvidia-nccl-cu13 wheel) also checks the NCCL
# branch of native/distributed; gloo's headers in TORCH_INCLUDE add the Gloo branch.
set -uo pipefail
ARCHS=${ARCHS:-80 90a}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
TORCH_INCLUDE=${TORCH_INCLUDE:-/usr/include}
stub=$(mktemp -d)
trap 'rm -rf "$stub"' EXIT
mkdir -p "$stub/c10/cuda/impl" "$stub/obj"
echo '#define C10_CUDA_BUILD_SHARED_LIBS' > "$stub/c10/cuda/impl/cuda_cmake_macros.h"
printf '#pragma once\n#include <cuda_runtime.h>\ntypedef struct cublasContext* cublasHandle_t;\ntypedef int cublasStatus_t;\n' > "$stub/cublas_v2.h"
cp "$stub/cublas_v2.h" "$stub/cublas.h"
printf '#pragma once\ntypedef struct cublasLtContext* cublasLtHandle_t;\n' > "$stub/cublasLt.h"
printf '#pragma once\ntypedef struct cusparseContext* cusparseHandle_t;\ntypedef int cusparseStatus_t;\n' > "$stub/cusparse.h"
printf '#pragma once\ntypedef struct cusolverDnContext* cusolverDnHandle_t;\ntypedef int cusolverStatus_t;\n' > "$stub/cusolverDn.h"
printf '#pragma once\ntypedef int cusolverStatus_t;\n' > "$stub/cusolver_common.h"

files=("$@")
if (( ${#files[@]} == 0 )); then
  mapfile -t files < <( (find native -name '*.cu'; grep -rl ATMAN_WITH_CUDA native binding --include='*.cpp' --include='*.cc') | sort)
fi
dist_flags=()
[[ -f "$TORCH_INCLUDE/gloo/context.h" ]] && dist_flags+=(-DATMAN_WITH_GLOO=1 -DUSE_C10D_GLOO)
[[ -n "${NCCL_INCLUDE_DIR:-}" ]] && dist_flags+=(-I"$NCCL_INCLUDE_DIR" -DATMAN_WITH_NCCL=1 -DUSE_C10D_NCCL)
gencode=()
for a in $ARCHS; do gencode+=(-gencode "arch=compute_${a},code=sm_${a}"); done
failed=0
for f in "${files[@]}"; do
  t0=$(date +%s)
  if [[ $f == *.cu ]]; then
    "$CUDA_HOME/bin/nvcc" -std=c++17 -O3 -I. "${gencode[@]}" -c "$f" -o "$stub/obj/$(basename "$f").o" > "$stub/log" 2>&1
  else
    g++ -fsyntax-only -std=c++17 -I. -I"$TORCH_INCLUDE" -I"$TORCH_INCLUDE/torch/csrc/api/include" -I"$stub" -I"$CUDA_HOME/include" -DATMAN_WITH_CUDA=1 "${dist_flags[@]}" "$f" > "$stub/log" 2>&1
  fi
  rc=$?
  echo "$([[ $rc == 0 ]] && echo ok || echo FAILED) $f ($(( $(date +%s) - t0 ))s)"
  if [[ $rc != 0 ]]; then failed=1; head -40 "$stub/log"; fi
done
exit $failed
