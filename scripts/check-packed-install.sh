#!/usr/bin/env bash
# Checks the install experience of the packed package: `npm pack`, then in a fresh directory `npm install` of the
# tarball with compiling forbidden (ATMAN_NO_BUILD=1 makes scripts/install.js fail instead of building; no build/ may
# appear), `atman-native doctor` must name a prebuild of the expected variant, and a 2-step run of the bundled `train`
# must finish and write 2 metrics rows. LD_LIBRARY_PATH is unset throughout: the loader must find libtorch itself.
#
# Usage: scripts/check-packed-install.sh [--offline] [--tarball FILE] [--expect cpu|cuda] [--keep]
#   --offline        npm install from the npm cache only (a machine without the registry)
#   --tarball FILE   install FILE instead of packing this checkout
#   --expect V       the variant doctor must report (default: cuda when an NVIDIA driver is loaded, else cpu)
#   --keep           keep the temporary directory
#   ATMAN_NPM_CACHE  npm cache directory to use (fill one on a machine with the registry by running this script with
#                    it set, copy it over, then run with --offline and the same variable)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
offline=() tarball='' keep=0 expect=''
while (($#)); do
  case $1 in
    --offline) offline=(--offline) ;;
    --tarball) tarball=$(realpath "$2"); shift ;;
    --expect) expect=$2; shift ;;
    --keep) keep=1 ;;
    *) echo "check-packed-install: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z $expect ]]; then
  if [[ -e /proc/driver/nvidia/version ]]; then expect=cuda; else expect=cpu; fi
fi
cache=()
[[ -n ${ATMAN_NPM_CACHE:-} ]] && cache=(--cache "$ATMAN_NPM_CACHE")
unset LD_LIBRARY_PATH

work=$(mktemp -d "${TMPDIR:-/tmp}/atman-packed-XXXXXX")
if ((keep)); then echo "check-packed-install: working in $work (kept)"; else trap 'rm -rf "$work"' EXIT; fi
say() { echo "check-packed-install: $*"; }
fail() { echo "check-packed-install: FAILED: $*" >&2; exit 1; }

if [[ -z $tarball ]]; then
  say "npm pack (runs prepare: tsc)"
  (cd "$root" && npm pack --silent --pack-destination "$work" "${cache[@]}" >/dev/null)
  tarball=$(ls "$work"/atman-native-*.tgz)
fi
say "tarball $(basename "$tarball"): $(du -k "$tarball" | cut -f1) KiB, prebuilds: $(tar tzf "$tarball" | grep -c '^package/prebuilds/.*\.node$')"

mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
# npm >= 11.19 skips dependencies' install scripts unless allowed: allow ours (.npmrc; older npm ignores the key), so
# that the hook runs and is checked too; --foreground-scripts shows what it prints.
echo 'allow-scripts=atman-native' >.npmrc
say "npm install ${offline[*]} $(basename "$tarball") with ATMAN_NO_BUILD=1"
ATMAN_NO_BUILD=1 npm install --no-audit --no-fund --foreground-scripts "${offline[@]}" "${cache[@]}" "$tarball" 2>&1 |
  tee install.log | sed 's/^/  | /'
grep -q 'atman-native: using the prebuild' install.log || fail 'the install hook did not report using a prebuild'
[[ ! -e node_modules/atman-native/build ]] || fail 'node_modules/atman-native/build exists: something compiled'

say 'npx atman-native doctor'
npx --no -- atman-native doctor 2>&1 | tee doctor.txt | sed 's/^/  | /'
grep -Eq '^  addon loaded .*/prebuilds/linux-x64/atman-native\.torch-[0-9]+\.[0-9]+\.[a-z0-9.]+\.node \(prebuild\)$' doctor.txt ||
  fail 'doctor does not name a prebuild as the addon loaded'
grep -Eq "^  build variant +$expect\$" doctor.txt || fail "doctor does not report the $expect variant"

say 'npx atman-native train --grpo.steps 2 --name ci (the bundled default, shortened)'
npx --no -- atman-native train --grpo.steps 2 --name ci --json 2>&1 | tee train.log | sed 's/^/  | /'
rows=$(grep -c . runs/ci/metrics.jsonl || true)
[[ $rows == 2 ]] || fail "runs/ci/metrics.jsonl has $rows rows, expected 2"
say "OK: installed without compiling, doctor names the $expect prebuild, train wrote 2 metrics rows"
