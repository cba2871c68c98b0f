#!/usr/bin/env node
// npm install hook: use the addon the loader picks (dist/loader: a local build, else the prebuild that fits the
// libtorch found), else build from source with cmake-js, saying why. The build log goes to build/install.log; on
// failure only the cause and its fix are printed.
// ATMAN_FORCE_BUILD=1 builds even when a binary loads; ATMAN_NO_BUILD=1 fails instead of building (CI uses it to
// prove that an install did not compile).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const indent = (text) => text.replace(/^/gm, '  ');

/** The binary that loads, as {report}, or {why} none does. */
function chooseBinary() {
  let loader;
  try {
    loader = require('../dist/loader');
  } catch {
    // A packed tarball has dist/ (npm pack runs prepare); a git checkout compiles it only after this hook.
    const local = path.join(root, 'build', 'Release', 'atman_native.node');
    if (fs.existsSync(local)) {
      try {
        require(local);
        return { report: { chosen: { file: local, kind: 'local build', why: 'an existing local build' } } };
      } catch (e) {
        return { why: `the local build does not load: ${e.message.split('\n')[0]}` };
      }
    }
    return { why: 'a source checkout without dist/ (compiled after this hook) and without a local build' };
  }
  try {
    return { report: loader.loadNativeAddon({ root }).report };
  } catch (e) {
    return { why: e.message };
  }
}

const choice = process.env.ATMAN_FORCE_BUILD === '1' ? { why: 'ATMAN_FORCE_BUILD=1' } : chooseBinary();
if (choice.report) {
  const c = choice.report.chosen;
  console.log(`atman-native: using the ${c.kind} ${path.relative(root, c.file)}: ${c.why} (ATMAN_FORCE_BUILD=1 builds from source instead)`);
  process.exit(0);
}
if (process.env.ATMAN_NO_BUILD === '1') {
  console.error(`atman-native: no usable native addon, and ATMAN_NO_BUILD=1 forbids building one from source. Why none:\n${indent(choice.why)}`);
  process.exit(1);
}
console.log(`atman-native: building the native addon from source with cmake-js (a few minutes), because:\n${indent(choice.why)}`);
fs.mkdirSync(path.join(root, 'build'), { recursive: true });
const logFile = path.join(root, 'build', 'install.log');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const result = spawnSync(process.execPath, [cmakeJs, 'compile'], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
const log = `${result.stdout || ''}${result.stderr || ''}`;
fs.writeFileSync(logFile, log);

if (result.status === 0) {
  console.log('atman-native: native addon built (log: build/install.log)');
  process.exit(0);
}

const ourMessage = /\natman-native: [\s\S]*?(?=\n\s*Call Stack|\n-- Configuring incomplete|$)/.exec(log);
if (ourMessage) {
  console.error(ourMessage[0].replace(/\n {2}/g, '\n').trim());
} else if (result.error && result.error.code === 'ENOENT') {
  console.error('atman-native: cmake was not found. Install it (apt-get install cmake, or pip install cmake) and reinstall.');
} else if (/No CMAKE_CXX_COMPILER could be found|is not a full path to an existing compiler/.test(log)) {
  console.error('atman-native: no C++ compiler found. Install one (apt-get install g++) and reinstall.');
} else {
  console.error('atman-native: building the native addon failed. The last lines of build/install.log:');
  console.error(log.split('\n').filter((l) => /error|Error/.test(l)).slice(-15).join('\n') || log.slice(-3000));
}
console.error(`Full log: ${logFile}`);
process.exit(1);
