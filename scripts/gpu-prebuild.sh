#!/usr/bin/env bash
# The CUDA prebuild, made on the GPU host (run with carry [".gpu"]): builds the addon for sm_80 and sm_90a against
# the host's libtorch (python3's torch), names and strips it (scripts/prebuild.sh), copies it to $OUT to be brought
# back and committed, then checks the packed install offline there (scripts/check-packed-install.sh --expect cuda)
# with LIBTORCH and LD_LIBRARY_PATH unset, so the loader must find python3's torch itself.
# Needs in .gpu/: npm.txz (tar of the npm package, e.g. /usr/lib/node_modules/npm) and npm-cache.tar (an npm cache
# that holds the dependencies: fill one with `ATMAN_NPM_CACHE=/tmp/atman-npm-cache scripts/check-packed-install.sh`).
set -uo pipefail
export TORCH_CUDA_ARCH_LIST="8.0;9.0a"
# A fresh build: a build/ left by another script on a warm machine was configured for other architectures.
[[ ${SKIP_BUILD:-0} == 1 ]] || rm -rf build
source scripts/gpu-common.sh
mkdir -p /tmp/npmpkg && tar -xJf .gpu/npm.txz -C /tmp/npmpkg
printf '#!/bin/sh\nexec node /tmp/npmpkg/npm/bin/npm-cli.js "$@"\n' > /tmp/nodebin/npm
printf '#!/bin/sh\nexec node /tmp/npmpkg/npm/bin/npx-cli.js "$@"\n' > /tmp/nodebin/npx
chmod +x /tmp/nodebin/npm /tmp/nodebin/npx
tar -xf .gpu/npm-cache.tar -C /tmp

step "prebuild"
bash scripts/prebuild.sh || exit 1
cuobjdump --list-elf prebuilds/linux-x64/*cu*.node 2>/dev/null | grep -o "sm_[0-9a-z]*" | sort -u | tr '\n' ' '; echo
cp prebuilds/linux-x64/*cu*.node "$OUT/"

step "packed install, offline, LIBTORCH and LD_LIBRARY_PATH unset"
(unset LIBTORCH Torch_DIR CMAKE_PREFIX_PATH; ATMAN_NPM_CACHE=/tmp/atman-npm-cache timeout $(left 300) \
  bash scripts/check-packed-install.sh --offline --expect cuda) 2>&1 | tail -40
step done
