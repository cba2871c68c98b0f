#!/usr/bin/env node
// Prints the prebuild file name of a built addon (see src/loader/prebuild-name.ts): its tags come from the binary's
// own buildInfo() (libtorch version, cpu/cuda, C++ ABI) and, for a CUDA build, the CUDA version of the libtorch it was
// built against (that libtorch's version.py or build-version; ATMAN_PREBUILD_CUDA=13.0 overrides).
// Usage: node scripts/prebuild-name.js build/Release/atman_native.node   (needs dist/: npm run prepare)
'use strict';
const path = require('path');
const loader = require('../dist/loader');

const file = path.resolve(process.argv[2] || 'build/Release/atman_native.node');
const info = require(file).buildInfo(); // its RUNPATH finds the libtorch it was built against
const torch = loader.parseMajorMinor(info.torchVersion);
if (!torch) throw new Error(`prebuild-name: ${file} reports torchVersion '${info.torchVersion}': no major.minor in it`);
let cuda = null;
if (info.variant === 'cuda') {
  const lt = loader.describeLibtorchDir(info.torchLibDir);
  const version = process.env.ATMAN_PREBUILD_CUDA || (lt && lt.cuda !== 'unknown' ? lt.cuda : null);
  cuda = loader.parseMajorMinor(version);
  if (!cuda)
    throw new Error(`prebuild-name: ${file} is a CUDA build but the CUDA version of ${info.torchLibDir} is unknown: set ATMAN_PREBUILD_CUDA (e.g. 13.0)`);
}
process.stdout.write(`${loader.prebuildFileName({ torch, cuda, cxx11Abi: info.cxx11Abi })}\n`);
