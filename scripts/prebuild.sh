#!/usr/bin/env bash
# Packages the local build as a prebuild: copies build/Release/atman_native.node (or $1) to
# prebuilds/<platform>-<arch>/<tagged name> (scripts/prebuild-name.js), without the symbols loading does not need,
# then checks that the loader picks it (with build/Release skipped) and prints its size. Commit the file it names.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-build/Release/atman_native.node}
if [[ ! -f $src ]]; then
  echo "prebuild: $src not found: build the addon first (npx cmake-js compile)" >&2
  exit 1
fi
node node_modules/typescript/bin/tsc -p tsconfig.json # dist/loader: the naming scheme and the loader
name=$(node scripts/prebuild-name.js "$src")
dir=prebuilds/$(node -p "process.platform + '-' + process.arch")
mkdir -p "$dir"
strip --strip-unneeded -o "$dir/$name" "$src"
echo "prebuild: $dir/$name ($(du -k "$dir/$name" | cut -f1) KiB; was $(du -k "$src" | cut -f1) KiB)"
ATMAN_SKIP_LOCAL_BUILD=1 node -e '
  const { report } = require("./dist/loader").loadNativeAddon({ root: "." });
  console.log(`prebuild: the loader picks ${require("path").relative(".", report.chosen.file)}: ${report.chosen.why}`);
  if (!report.chosen.file.endsWith(process.argv[1])) { console.error("prebuild: but that is not the new file"); process.exit(1); }
' "$name"
